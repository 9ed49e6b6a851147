// TEST SUPPORT ONLY: the message store of one queue or subscription of the Service Bus test peer
// (and of its dead-letter sub-queue): peek-lock with lock tokens and expiry, abandon, defer,
// dead-letter, max delivery count, scheduled messages. Everything lives in memory.
import { randomUUID } from "node:crypto";
import type { Message } from "rhea";

/** Settings of a queue or subscription, as its entity description would hold them. */
export interface EntitySettings {
  /** How long a peek-lock holds a message. Default 30 000 (Service Bus: PT30S... up to PT5M). */
  readonly lockDurationMs: number;
  /** Deliveries before the broker dead-letters with `MaxDeliveryCountExceeded`. Default 10. */
  readonly maxDeliveryCount: number;
}

/** One message held by a store. */
export interface StoredMessage {
  readonly seq: number;
  /** The message as the sender sent it, with properties changed by dispositions. */
  message: Message;
  readonly enqueuedAt: Date;
  /** Deliveries that ended without completion (the AMQP header's delivery-count). */
  deliveryCount: number;
  state: "active" | "deferred" | "scheduled";
  lock?: { readonly token: string; until: number; timer: NodeJS.Timeout } | undefined;
  scheduleTimer?: NodeJS.Timeout | undefined;
}

/** Someone attached to a store to receive: a client's receiver link. */
export interface StoreConsumer {
  /** True when the link has credit for one more message. */
  ready(): boolean;
  /** Hands a message over; `lockToken` is undefined in receive-and-delete mode. */
  deliver(message: StoredMessage, lockToken: string | undefined): void;
  /** Receive-and-delete: a delivered message is gone at once. */
  readonly settleOnSend: boolean;
}

/** What a disposition does to a locked message. */
export type Disposition =
  | { readonly kind: "complete" }
  | { readonly kind: "abandon"; readonly properties?: Record<string, unknown> }
  | { readonly kind: "defer"; readonly properties?: Record<string, unknown> }
  | { readonly kind: "dead-letter"; readonly reason?: string; readonly description?: string; readonly properties?: Record<string, unknown> };

/** Thrown when a lock token is unknown or its lock has expired. */
export class LockLostError extends Error {
  override readonly name = "LockLostError";
  constructor(readonly token: string) {
    super(`the lock ${token} has expired or the message was settled`);
  }
}

/** A queue, a subscription, or the dead-letter sub-queue of either. */
export class MessageStore {
  readonly #messages = new Map<number, StoredMessage>();
  /** Sequence numbers of active, unlocked messages, ascending. */
  readonly #ready: number[] = [];
  readonly #locks = new Map<string, StoredMessage>();
  readonly #consumers: StoreConsumer[] = [];
  #nextSeq = 1;
  #turn = 0;
  #pumping = false;

  constructor(
    readonly path: string,
    readonly settings: EntitySettings,
    /** Where dead letters go; undefined for a dead-letter queue itself. */
    readonly deadLetterQueue: MessageStore | undefined,
  ) {}

  /** Messages held, by state (for tests and diagnostics). */
  counts(): { active: number; locked: number; deferred: number; scheduled: number } {
    let deferred = 0;
    let scheduled = 0;
    for (const m of this.#messages.values()) {
      if (m.state === "deferred") deferred++;
      if (m.state === "scheduled") scheduled++;
    }
    return { active: this.#ready.length, locked: this.#locks.size, deferred, scheduled };
  }

  /** Adds a message; held back until `availableAt` when that is in the future. Returns its sequence number. */
  enqueue(message: Message, deliveryCount = 0, availableAt?: Date): number {
    const seq = this.#nextSeq++;
    const stored: StoredMessage = { seq, message, enqueuedAt: new Date(), deliveryCount, state: "active" };
    this.#messages.set(seq, stored);
    const delayMs = availableAt === undefined ? 0 : availableAt.getTime() - Date.now();
    if (delayMs > 0) {
      stored.state = "scheduled";
      stored.scheduleTimer = setTimeout(() => {
        stored.scheduleTimer = undefined;
        stored.state = "active";
        this.#makeReady(stored);
      }, delayMs);
      stored.scheduleTimer.unref();
    } else {
      this.#ready.push(seq);
      this.pump();
    }
    return seq;
  }

  /** Removes a scheduled message before it becomes active; false when there is none. */
  cancelScheduled(seq: number): boolean {
    const stored = this.#messages.get(seq);
    if (stored?.state !== "scheduled") return false;
    clearTimeout(stored.scheduleTimer);
    this.#messages.delete(seq);
    return true;
  }

  attach(consumer: StoreConsumer): void {
    this.#consumers.push(consumer);
    this.pump();
  }

  detach(consumer: StoreConsumer): void {
    const at = this.#consumers.indexOf(consumer);
    if (at >= 0) this.#consumers.splice(at, 1);
  }

  /** Hands ready messages to consumers with credit, round-robin. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#ready.length > 0) {
        const consumer = this.#nextReadyConsumer();
        if (consumer === undefined) return;
        const seq = this.#ready.shift();
        const stored = seq === undefined ? undefined : this.#messages.get(seq);
        if (stored === undefined) continue;
        if (consumer.settleOnSend) {
          this.#messages.delete(stored.seq);
          consumer.deliver(stored, undefined);
        } else {
          consumer.deliver(stored, this.#lock(stored));
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #nextReadyConsumer(): StoreConsumer | undefined {
    for (let i = 0; i < this.#consumers.length; i++) {
      const consumer = this.#consumers[(this.#turn + i) % this.#consumers.length];
      if (consumer?.ready()) {
        this.#turn = (this.#turn + i + 1) % this.#consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  #lock(stored: StoredMessage): string {
    const token = randomUUID();
    const timer = setTimeout(() => this.#lockExpired(stored, token), this.settings.lockDurationMs);
    timer.unref();
    stored.lock = { token, until: Date.now() + this.settings.lockDurationMs, timer };
    this.#locks.set(token, stored);
    return token;
  }

  #lockExpired(stored: StoredMessage, token: string): void {
    if (stored.lock?.token !== token) return;
    this.#unlock(stored);
    // An expired lock counts as a delivery, exactly like an abandon.
    this.#failedDelivery(stored, undefined);
  }

  #unlock(stored: StoredMessage): void {
    if (stored.lock === undefined) return;
    clearTimeout(stored.lock.timer);
    this.#locks.delete(stored.lock.token);
    stored.lock = undefined;
  }

  /** The locked message of `token`, or a {@link LockLostError}. */
  locked(token: string): StoredMessage {
    const stored = this.#locks.get(token);
    if (stored === undefined) throw new LockLostError(token);
    return stored;
  }

  /** Extends a lock by the lock duration; returns the new expiry. */
  renewLock(token: string): Date {
    const stored = this.locked(token);
    const lock = stored.lock;
    if (lock === undefined) throw new LockLostError(token);
    clearTimeout(lock.timer);
    lock.until = Date.now() + this.settings.lockDurationMs;
    lock.timer = setTimeout(() => this.#lockExpired(stored, token), this.settings.lockDurationMs);
    lock.timer.unref();
    return new Date(lock.until);
  }

  /** Settles the message locked by `token`. */
  settle(token: string, disposition: Disposition): void {
    const stored = this.locked(token);
    this.#unlock(stored);
    switch (disposition.kind) {
      case "complete":
        this.#messages.delete(stored.seq);
        return;
      case "abandon":
        this.#failedDelivery(stored, disposition.properties);
        return;
      case "defer":
        this.#modify(stored, disposition.properties);
        stored.state = "deferred";
        return;
      case "dead-letter":
        this.#deadLetter(stored, disposition.reason, disposition.description, disposition.properties);
        return;
    }
  }

  /** Locks deferred messages by sequence number (receive-by-sequence-number); returns them with their tokens. */
  receiveDeferred(seqs: readonly number[]): Array<{ stored: StoredMessage; token: string }> {
    const out: Array<{ stored: StoredMessage; token: string }> = [];
    for (const seq of seqs) {
      const stored = this.#messages.get(seq);
      if (stored?.state !== "deferred" || stored.lock !== undefined) continue;
      out.push({ stored, token: this.#lock(stored) });
    }
    return out;
  }

  /** Messages from `fromSeq` on, without locking them (active, locked, deferred and scheduled alike). */
  peek(fromSeq: number, count: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const stored of this.#messages.values()) {
      if (stored.seq < fromSeq) continue;
      out.push(stored);
      if (out.length >= count) break;
    }
    return out;
  }

  /** Drops every timer (the peer is stopping). */
  close(): void {
    for (const stored of this.#messages.values()) {
      if (stored.lock !== undefined) clearTimeout(stored.lock.timer);
      if (stored.scheduleTimer !== undefined) clearTimeout(stored.scheduleTimer);
    }
    this.#consumers.splice(0);
  }

  #failedDelivery(stored: StoredMessage, properties: Record<string, unknown> | undefined): void {
    this.#modify(stored, properties);
    stored.deliveryCount += 1;
    if (this.deadLetterQueue !== undefined && stored.deliveryCount >= this.settings.maxDeliveryCount) {
      this.#deadLetter(stored, "MaxDeliveryCountExceeded", `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`, undefined);
      return;
    }
    this.#makeReady(stored);
  }

  #deadLetter(stored: StoredMessage, reason: string | undefined, description: string | undefined, properties: Record<string, unknown> | undefined): void {
    this.#messages.delete(stored.seq);
    if (this.deadLetterQueue === undefined) return; // a dead-letter queue's own messages cannot be dead-lettered further
    this.#modify(stored, {
      ...properties,
      ...(reason !== undefined ? { DeadLetterReason: reason } : {}),
      ...(description !== undefined ? { DeadLetterErrorDescription: description } : {}),
    });
    this.deadLetterQueue.enqueue(stored.message, stored.deliveryCount);
  }

  #modify(stored: StoredMessage, properties: Record<string, unknown> | undefined): void {
    if (properties === undefined || Object.keys(properties).length === 0) return;
    stored.message = { ...stored.message, application_properties: { ...stored.message.application_properties, ...properties } };
  }

  #makeReady(stored: StoredMessage): void {
    // Back in sequence order: an abandoned message is the next one handed out, as on the broker.
    let low = 0;
    let high = this.#ready.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#ready[mid] ?? 0) < stored.seq) low = mid + 1;
      else high = mid;
    }
    this.#ready.splice(low, 0, stored.seq);
    this.pump();
  }
}
