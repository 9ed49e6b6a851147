/** Why an event was refused. */
export type EventValidationCode = "MalformedJson" | "SchemaInvalid" | "UnknownEventType" | "EventTooLarge";

/** An event that does not match the catalog. Names the first offending field so the dead-letter reason is useful. */
export class EventValidationError extends Error {
  override readonly name = "EventValidationError";
  constructor(
    readonly code: EventValidationCode,
    message: string,
    readonly context: {
      /** Dotted path of the first invalid field, e.g. `data.dataset.etag`. */
      readonly field?: string;
      readonly eventId?: string;
      readonly eventType?: string;
      /** Every problem found, as `path: message`. */
      readonly issues?: readonly string[];
    } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Dotted path of the first invalid field, when there is one. */
  get field(): string | undefined {
    return this.context.field;
  }
}
