import { encodeEvent, EventValidationError, parseEvent, type AnyEvent } from "@retrain/contracts";
import { injectTraceHeaders, messagingSpan } from "@retrain/telemetry";
import { BusError } from "./errors.js";
import type { PublishReceipt } from "./port.js";

/** What an adapter sends: the encoded event and the headers that go with it. */
export interface OutgoingMessage {
  readonly event: AnyEvent;
  readonly body: Buffer;
  /** `traceparent`/`tracestate` of the publish span, `ce-type`, `ce-id`. */
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
  let checked: AnyEvent;
  try {
    checked = parseEvent(event);
  } catch (error) {
    const field = error instanceof EventValidationError ? ` (${error.field ?? "?"})` : "";
    throw new BusError("EventInvalid", `refusing to publish an invalid ${event.type} event${field}: ${(error as Error).message}`, false, {
      eventId: event.id,
      eventType: event.type,
    }, { cause: error });
  }
  return messagingSpan(
    {
      operation: "publish",
      system,
      destination,
      messageId: checked.id,
      ...(checked.runid !== undefined ? { runId: checked.runid } : {}),
    },
    async () => {
      const headers: Record<string, string> = { "ce-id": checked.id, "ce-type": checked.type };
      injectTraceHeaders(headers);
      const withTrace: AnyEvent =
        checked.traceparent === undefined && headers["traceparent"] !== undefined
          ? ({ ...checked, traceparent: headers["traceparent"], ...(headers["tracestate"] ? { tracestate: headers["tracestate"] } : {}) } as AnyEvent)
          : checked;
      let body: Buffer;
      try {
        body = encodeEvent(withTrace);
      } catch (error) {
        throw new BusError("EventInvalid", (error as Error).message, false, { eventId: checked.id, eventType: checked.type }, { cause: error });
      }
      return send({ event: withTrace, body, headers });
    },
  );
}
