import type { AnyEvent, CloudEvent, EventType } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import type { Inbox } from "./inbox.js";

/** Options for {@link EventBus.publish}. */
export interface PublishOptions {
  /**
   * The transport message id the broker dedupes on. Default: the event id, so a re-publish of the
   * same event within the broker's duplicate window is dropped.
   */
  messageId?: string;
  signal?: AbortSignal;
}

/** What the broker said about a publish. */
export interface PublishReceipt {
  /** True when the broker dropped it as a duplicate of a message id seen within its window. */
  readonly duplicate: boolean;
}

/** What a handler gets besides the event. */
export interface HandlerContext<T extends EventType = EventType> {
  readonly event: CloudEvent<T>;
  /** 1 on first delivery. */
  readonly attempt: number;
  readonly group: string;
  /** Aborted when the subscription is closing: stop, and the event is redelivered elsewhere. */
  readonly signal: AbortSignal;
  /** Carries event_id, run_id, trace_id. */
  readonly logger: Logger;
  /** Tells the broker the handler is still working (resets the ack deadline / renews the lock). */
  heartbeat(): void;
}

/** A plain async function of (event, context). Return to acknowledge; throw to retry or dead-letter. */
export type EventHandler<T extends EventType = EventType> = (event: CloudEvent<T>, context: HandlerContext<T>) => Promise<void>;

/** Options for {@link EventBus.subscribe}. */
export interface SubscribeOptions<T extends EventType = EventType> {
  /** Consumer group: subscribers of one group share the work; each group gets every event. */
  group: string;
  types: readonly T[];
  handler: EventHandler<T>;
  /** Handler calls in flight at once in this subscriber. Default 1. */
  concurrency?: number;
  /** Deliveries before the event is dead-lettered. Default 5. */
  maxAttempts?: number;
  /** Delay before redelivery after the n-th failure; the last entry repeats. Default [200, 1000, 5000]. */
  backoffMs?: readonly number[];
  /** How long a delivery may go without ack or heartbeat before the broker redelivers it. Default 30 000. */
  ackWaitMs?: number;
  /** Consumer-side dedupe by event id. Default: a {@link MemoryInbox} per bus. */
  inbox?: Inbox;
  /** Aborting it closes the subscription like {@link Subscription.close}. */
  signal?: AbortSignal;
}

/** A running subscription. */
export interface Subscription {
  readonly group: string;
  /** Stops taking new events, waits up to `graceMs` for handlers in flight, then aborts them; they are not acked. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Why an event was dead-lettered. */
export type DeadLetterReason = "SchemaInvalid" | "MaxAttemptsExceeded" | "NonRetryable";

/** An event the runner gave up on, with why. */
export interface DeadLetter {
  /** The dead-letter entry's own id (for show / replay / drop). */
  readonly id: string;
  readonly group: string;
  readonly reason: DeadLetterReason;
  /** The error that decided it (the schema error, the handler's last error). */
  readonly description: string;
  readonly attempts: number;
  /** CloudEvent id and type when the payload could be read that far. */
  readonly eventId?: string;
  readonly eventType?: string;
  /** The original bytes as received (UTF-8 when text, else base64 with `payloadEncoding`). */
  readonly payload: string;
  readonly payloadEncoding: "utf8" | "base64";
  readonly deadLetteredAt: string;
}

/** Listing options for dead letters. */
export interface ListDeadLettersOptions {
  group?: string;
  limit?: number;
}

/** Backlog of one consumer (group and destination) as the broker counts it. */
export interface ConsumerBacklog {
  readonly group: string;
  /** Subject / subscription the consumer reads. */
  readonly destination: string;
  /** Messages not yet delivered to the group (its lag). */
  readonly pending: number;
  /** Delivered and not yet settled. */
  readonly unacknowledged: number;
}

/** What the broker says about this process's consumers and the dead letters, for metrics. */
export interface BusStats {
  readonly consumers: readonly ConsumerBacklog[];
  /** Dead letters held (all groups). */
  readonly deadLetters: number;
}

/** The broker port every service uses. Adapters: in-memory, NATS JetStream, Azure Service Bus. */
export interface EventBus {
  readonly kind: "memory" | "nats" | "servicebus";
  publish(event: AnyEvent, options?: PublishOptions): Promise<PublishReceipt>;
  subscribe<T extends EventType>(options: SubscribeOptions<T>): Promise<Subscription>;
  listDeadLetters(options?: ListDeadLettersOptions): Promise<DeadLetter[]>;
  /**
   * Re-delivers a dead letter to its group only: the original CloudEvent id with a fresh transport
   * message id (so the broker's duplicate window does not swallow it), then removes the entry.
   */
  replayDeadLetter(id: string): Promise<void>;
  /** Removes a dead letter; false when there was none. */
  dropDeadLetter(id: string): Promise<boolean>;
  /** Backlog of the groups subscribed through this bus, and the dead-letter depth (asked of the broker). */
  stats?(): Promise<BusStats>;
  /** Closes every subscription (two-phase, see {@link Subscription.close}) and the connection. */
  close(options?: { graceMs?: number }): Promise<void>;
}
