import { decodeEvent, EventValidationError, type AnyEvent, type CloudEvent, type EventType } from "@retrain/contracts";
import { extractTraceContext, messagingSpan, type Logger } from "@retrain/telemetry";
import { NonRetryableError } from "./errors.js";
import type { Inbox } from "./inbox.js";
import type { DeadLetter, DeadLetterReason, EventHandler, HandlerContext } from "./port.js";

/** A dead letter as the runner hands it to an adapter to store. */
export interface DeadLetterDraft {
  readonly group: string;
  readonly reason: DeadLetterReason;
  readonly description: string;
  readonly attempts: number;
  readonly eventId?: string;
  readonly eventType?: string;
  readonly body: Uint8Array;
}

/** One received message as an adapter presents it to the runner. The runner settles it exactly once. */
export interface Delivery {
  readonly body: Uint8Array;
  /** Transport headers / application properties, lower-case keys. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** 1 on first delivery. */
  readonly attempt: number;
  /** Where it came from, for spans and logs (subject, topic/subscription). */
  readonly destination: string;
  ack(): Promise<void>;
  /** Redeliver after `delayMs`. */
  retry(delayMs: number): Promise<void>;
  /** Give it back for another consumer now (shutdown); not a failure of the event. */
  release(): Promise<void>;
  /** Store the dead letter durably, then settle the original so it is not delivered again. */
  deadLetter(draft: DeadLetterDraft): Promise<void>;
  heartbeat(): void;
}

/** How the runner settles a delivery: the one place a handler's result becomes a broker action. */
export type Settlement =
  | { readonly kind: "ack" }
  | { readonly kind: "retry"; readonly delayMs: number }
  | { readonly kind: "release" }
  | { readonly kind: "dead-letter"; readonly reason: DeadLetterReason; readonly description: string };

/** The declared retry policy of a subscription. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly backoffMs: readonly number[];
}

/** What happened when the runner tried the handler. */
export type HandlerResult =
  | { readonly kind: "done" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "invalid"; readonly error: EventValidationError }
  | { readonly kind: "threw"; readonly error: unknown }
  | { readonly kind: "aborted" };

/** Maps a handler result to a settlement. Exhaustive: a new result kind fails to compile until it is decided here. */
export function settlementFor(result: HandlerResult, attempt: number, policy: RetryPolicy): Settlement {
  switch (result.kind) {
    case "done":
    case "duplicate":
      return { kind: "ack" };
    case "aborted":
      return { kind: "release" };
    case "invalid":
      return { kind: "dead-letter", reason: "SchemaInvalid", description: `${result.error.code}: ${result.error.message}` };
    case "threw": {
      const message = describe(result.error);
      if (result.error instanceof NonRetryableError) {
        return { kind: "dead-letter", reason: "NonRetryable", description: `${result.error.code}: ${message}` };
      }
      if (attempt >= policy.maxAttempts) {
        return { kind: "dead-letter", reason: "MaxAttemptsExceeded", description: `after ${attempt} attempts: ${message}` };
      }
      const delays = policy.backoffMs;
      const delayMs = delays.length === 0 ? 0 : (delays[Math.min(attempt - 1, delays.length - 1)] ?? 0);
      return { kind: "retry", delayMs };
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** What the runner needs to process deliveries of one subscription. */
export interface RunnerOptions<T extends EventType> {
  readonly group: string;
  readonly types: readonly T[];
  readonly handler: EventHandler<T>;
  readonly policy: RetryPolicy;
  readonly inbox: Inbox;
  readonly logger: Logger;
  /** `messaging.system` for spans. */
  readonly system: string;
  /** Aborted when the subscription closes. */
  readonly signal: AbortSignal;
}

/**
 * Builds the function every adapter calls for each delivery: decode and validate against the
 * catalog, dedupe by event id, continue the producer's trace, call the handler, and settle.
 * Cross-cutting work lives here once; adapters only move bytes and translate settlements.
 */
export function createDeliveryProcessor<T extends EventType>(options: RunnerOptions<T>): (delivery: Delivery) => Promise<Settlement> {
  const { group, handler, policy, inbox, logger, system, signal } = options;
  const accepted = new Set<string>(options.types);

  return async (delivery) => {
    let event: AnyEvent;
    try {
      event = decodeEvent(delivery.body);
    } catch (error) {
      const invalid =
        error instanceof EventValidationError ? error : new EventValidationError("MalformedJson", describe(error), {}, { cause: error });
      const settlement = settlementFor({ kind: "invalid", error: invalid }, delivery.attempt, policy);
      logger.warn({ group, reason: invalid.code, field: invalid.field, destination: delivery.destination }, "dead-lettering an invalid event");
      await settle(delivery, settlement, group, invalid.context.eventId, invalid.context.eventType);
      return settlement;
    }
    if (!accepted.has(event.type)) {
      await delivery.ack();
      return { kind: "ack" };
    }
    const typed = event as CloudEvent<T>;
    // A child logger costs an allocation per message; most deliveries never log, so make it on first use.
    let childLogger: Logger | undefined;
    const log = (): Logger =>
      (childLogger ??= logger.child({ event_id: event.id, event_type: event.type, run_id: event.runid, group, attempt: delivery.attempt }));
    const parent = extractTraceContext({
      traceparent: delivery.headers["traceparent"] ?? event.traceparent,
      tracestate: delivery.headers["tracestate"] ?? event.tracestate,
    });

    const result = await messagingSpan(
      {
        operation: "process",
        system,
        destination: delivery.destination,
        messageId: event.id,
        parent,
        attributes: { "messaging.consumer.group.name": group, "messaging.message.delivery_count": delivery.attempt },
        ...(event.runid !== undefined ? { runId: event.runid } : {}),
      },
      async (span): Promise<HandlerResult> => {
        if (delivery.attempt > policy.maxAttempts) {
          // A crash during an earlier dead-lettering: do not run the handler again.
          return { kind: "threw", error: new Error(`delivered ${delivery.attempt} times; limit ${policy.maxAttempts}`) };
        }
        if (await inbox.seen(group, event.id)) {
          span.setAttribute("retrain.duplicate", true);
          if (logger.isLevelEnabled("debug")) log().debug("duplicate event: already processed");
          return { kind: "duplicate" };
        }
        const context: HandlerContext<T> = {
          event: typed,
          attempt: delivery.attempt,
          group,
          // The subscription's own signal: it aborts only when close() gives up waiting.
          signal,
          get logger() {
            return log();
          },
          heartbeat: () => delivery.heartbeat(),
        };
        try {
          await handler(typed, context);
          if (signal.aborted) return { kind: "aborted" };
          await inbox.record?.(group, event.id);
          return { kind: "done" };
        } catch (error) {
          if (signal.aborted) return { kind: "aborted" };
          span.setError(describe(error));
          return { kind: "threw", error };
        }
      },
    );
    const settlement = settlementFor(result, delivery.attempt, policy);
    if (settlement.kind === "retry") log().warn({ delay_ms: settlement.delayMs, err: errorOf(result) }, "handler failed; will retry");
    if (settlement.kind === "dead-letter") log().error({ reason: settlement.reason, description: settlement.description }, "dead-lettering event");
    await settle(delivery, settlement, group, event.id, event.type);
    return settlement;
  };
}

function errorOf(result: HandlerResult): string | undefined {
  return result.kind === "threw" ? describe(result.error) : undefined;
}

async function settle(delivery: Delivery, settlement: Settlement, group: string, eventId?: string, eventType?: string): Promise<void> {
  switch (settlement.kind) {
    case "ack":
      return delivery.ack();
    case "retry":
      return delivery.retry(settlement.delayMs);
    case "release":
      return delivery.release();
    case "dead-letter":
      return delivery.deadLetter({
        group,
        reason: settlement.reason,
        description: settlement.description,
        attempts: delivery.attempt,
        body: delivery.body,
        ...(eventId !== undefined ? { eventId } : {}),
        ...(eventType !== undefined ? { eventType } : {}),
      });
  }
}

/** Resolved subscription settings with the documented defaults applied. */
export function resolvePolicy(options: { maxAttempts?: number; backoffMs?: readonly number[] }): RetryPolicy {
  return { maxAttempts: options.maxAttempts ?? 5, backoffMs: options.backoffMs ?? [200, 1000, 5000] };
}

/** The stored form of a dead letter (without its id, which each adapter's store assigns). */
export function deadLetterFromDraft(draft: DeadLetterDraft): Omit<DeadLetter, "id"> {
  return {
    group: draft.group,
    reason: draft.reason,
    description: draft.description,
    attempts: draft.attempts,
    ...(draft.eventId !== undefined ? { eventId: draft.eventId } : {}),
    ...(draft.eventType !== undefined ? { eventType: draft.eventType } : {}),
    ...payloadText(draft.body),
    deadLetteredAt: new Date().toISOString(),
  };
}

/** Encodes dead-letter payload bytes for storage: text when it is valid UTF-8, else base64. */
export function payloadText(body: Uint8Array): { payload: string; payloadEncoding: "utf8" | "base64" } {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const text = buffer.toString("utf8");
  return Buffer.from(text, "utf8").equals(buffer) ? { payload: text, payloadEncoding: "utf8" } : { payload: buffer.toString("base64"), payloadEncoding: "base64" };
}

/** Decodes a stored dead-letter payload back to bytes. */
export function payloadBytes(payload: string, encoding: "utf8" | "base64"): Buffer {
  return Buffer.from(payload, encoding);
}
