import { encodeEvent, EventValidationError, isValidatedEvent, parseEvent, withTraceContext, type AnyEvent } from "@retrain/contracts";
import { injectTraceHeaders, startMessagingSpan } from "@retrain/telemetry";
import { BusError } from "./errors.js";
import type { PublishReceipt } from "./port.js";

/** What an adapter sends: the encoded event and the headers that go with it. */
export interface OutgoingMessage {
  readonly event: AnyEvent;
  readonly body: Buffer;
  /** `traceparent`/`tracestate` of the publish span. */
  readonly headers: Record<string, string>;
}

/**
 * The publish side every adapter shares: validate against the catalog, open a publish span, put its
 * trace context in the headers (and in the event when it carries none yet), encode, then `send`.
 */
export async function publishWith(
  event: AnyEvent,
  system: string,
  destination: string,
  send: (message: OutgoingMessage) => Promise<PublishReceipt>,
): Promise<PublishReceipt> {
  let checked: AnyEvent = event;
  try {
    if (!isValidatedEvent(event)) checked = parseEvent(event);
  } catch (error) {
    const field = error instanceof EventValidationError ? ` (${error.field ?? "?"})` : "";
    throw new BusError("EventInvalid", `refusing to publish an invalid ${event.type} event${field}: ${(error as Error).message}`, false, {
      eventId: event.id,
      eventType: event.type,
    }, { cause: error });
  }
  // The publish span is not made active: nothing nests in it, and activating costs a context scope.
  const span = startMessagingSpan({
    operation: "publish",
    system,
    destination,
    messageId: checked.id,
    ...(checked.runid !== undefined ? { runId: checked.runid } : {}),
  });
  try {
    // Only trace context travels as headers: the id and type are in the CloudEvent itself.
    const headers: Record<string, string> = {};
    injectTraceHeaders(headers, span.traceContext);
    const traceparent = headers["traceparent"];
    const withTrace: AnyEvent =
      checked.traceparent === undefined && traceparent !== undefined ? withTraceContext(checked, traceparent, headers["tracestate"]) : checked;
    let body: Buffer;
    try {
      body = encodeEvent(withTrace);
    } catch (error) {
      throw new BusError("EventInvalid", (error as Error).message, false, { eventId: checked.id, eventType: checked.type }, { cause: error });
    }
    const receipt = await send({ event: withTrace, body, headers });
    span.end();
    return receipt;
  } catch (error) {
    span.end(error);
    throw error;
  }
}
