/** Every way the bus itself can fail, across adapters. */
export type BusErrorCode =
  | "ConnectionFailed"
  | "PublishFailed"
  | "Timeout"
  | "Closed"
  | "NotFound"
  | "InvalidArgument"
  | "EventInvalid"
  | "Unavailable";

/**
 * The bus's one error type. Each adapter translates its vendor's errors into it at its edge, so no
 * NATS or Service Bus type escapes; `retryable` says whether the same call may succeed later.
 */
export class BusError extends Error {
  override readonly name = "BusError";
  constructor(
    readonly code: BusErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly context: { readonly eventId?: string; readonly eventType?: string; readonly group?: string; readonly adapter?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Thrown by a handler when retrying cannot help (the input is wrong, not the moment): the runner
 * dead-letters the event at once with this message as the reason's description.
 */
export class NonRetryableError extends Error {
  override readonly name = "NonRetryableError";
  constructor(
    message: string,
    /** A short machine-readable code recorded with the dead letter. */
    readonly code = "NonRetryable",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
