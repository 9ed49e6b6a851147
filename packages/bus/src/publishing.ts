import { encodeEvent, EventTypes, EventValidationError, isValidatedEvent, parseEvent, withTraceContext, type AnyEvent } from "@retrain/contracts";
import { currentTraceIds, extractTraceContext, failActiveSpan, injectTraceHeaders, startMessagingSpan, type StartedSpan } from "@retrain/telemetry";
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
  // An event relayed from an outbox outside the work that caused it (a timer, a restart) has no
  // active span: its own traceparent, recorded with the change, keeps the publish in the run's trace.
  const orphaned = checked.traceparent !== undefined && currentTraceIds().traceId === undefined;
  const span = startMessagingSpan({
    operation: "publish",
    system,
    destination,
    messageId: checked.id,
    ...(checked.runid !== undefined ? { runId: checked.runid } : {}),
    ...(orphaned ? { parent: extractTraceContext({ traceparent: checked.traceparent, tracestate: checked.tracestate }) } : {}),
  });
  markFailedOutcome(checked, span);
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

/**
 * A run's failure outcome (rejected, training failed, promotion failed) is an error in its trace: the
 * publish span and the span that decided it (e.g. the evaluator's processing of ModelTrained) get
 * error status with the reason, so a trace view shows where and why the run stopped.
 */
function markFailedOutcome(event: AnyEvent, span: StartedSpan): void {
  let message: string | undefined;
  if (event.type === EventTypes.ModelRejected) message = `rejected: ${event.data.reason}`;
  else if (event.type === EventTypes.TrainingFailed) message = `training failed: ${event.data.code}: ${event.data.reason}`;
  else if (event.type === EventTypes.PromotionFailed) message = `promotion failed: ${event.data.code}: ${event.data.reason}`;
  if (message === undefined) return;
  const attributes = { "retrain.outcome": event.type, "retrain.reason": message };
  span.setAttributes(attributes);
  span.setError(message);
  failActiveSpan(message, attributes);
}
