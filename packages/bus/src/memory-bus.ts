import { randomUUID } from "node:crypto";
import type { AnyEvent, EventType } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { BusError } from "./errors.js";
import { InFlight } from "./in-flight.js";
import { MemoryInbox } from "./inbox.js";
import type { BusStats, DeadLetter, EventBus, ListDeadLettersOptions, PublishOptions, PublishReceipt, SubscribeOptions, Subscription } from "./port.js";
import { publishWith } from "./publishing.js";
import { createDeliveryProcessor, deadLetterFromDraft, payloadBytes, resolvePolicy, type Delivery } from "./runner.js";

/** Options for {@link MemoryBus}. */
export interface MemoryBusOptions {
  logger: Logger;
  /** How long a message id is remembered for publish dedupe. Default 120 000 ms (as JetStream). */
  duplicateWindowMs?: number;
}

interface Message {
  readonly type: string;
  readonly body: Buffer;
  readonly headers: Record<string, string>;
  attempts: number;
}

interface Consumer {
  readonly inFlight: InFlight;
  /** Gives back deliveries whose handler is still running (abandoned at close). */
  readonly unsettled: Set<() => Promise<void>>;
  readonly process: (delivery: Delivery) => Promise<unknown>;
  closing: boolean;
}

/** A consumer group: one queue shared by its subscribers (competing consumers). */
class Group {
  readonly queue: Message[] = [];
  readonly consumers: Consumer[] = [];
  readonly types = new Set<string>();
  next = 0;
  constructor(readonly name: string) {}
}

/**
 * The embedded default and the bus of handler unit tests: the same semantics as the brokers
 * (competing consumers within a group, fan-out across groups, redelivery with backoff, dead letters,
 * publish dedupe by message id) inside one process. Nothing survives the process.
 */
export class MemoryBus implements EventBus {
  readonly kind = "memory";
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #seenIds = new Map<string, number>();
  readonly #groups = new Map<string, Group>();
  readonly #deadLetters = new Map<string, DeadLetter>();
  readonly #subscriptions = new Set<Subscription>();
  readonly #inbox = new MemoryInbox();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: MemoryBusOptions) {
    this.#logger = options.logger;
    this.#windowMs = options.duplicateWindowMs ?? 120_000;
  }

  async publish(event: AnyEvent, options: PublishOptions = {}): Promise<PublishReceipt> {
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { eventId: event.id, adapter: "memory" });
    return publishWith(event, "memory", event.type, async ({ body, headers }) => {
      const now = Date.now();
      const messageId = options.messageId ?? event.id;
      const seenAt = this.#seenIds.get(messageId);
      if (seenAt !== undefined && now - seenAt < this.#windowMs) return { duplicate: true };
      this.#seenIds.set(messageId, now);
      this.#forgetOldIds(now);
      for (const group of this.#groups.values()) {
        if (group.types.has(event.type)) this.#enqueue(group, { type: event.type, body, headers, attempts: 0 });
      }
      return { duplicate: false };
    });
  }

  /** Publishes raw bytes as if a foreign producer had sent them (for poison-message tests and tooling). */
  async publishRaw(type: string, body: Uint8Array): Promise<void> {
    for (const group of this.#groups.values()) {
      if (group.types.has(type)) this.#enqueue(group, { type, body: Buffer.from(body), headers: {}, attempts: 0 });
    }
  }

  async subscribe<T extends EventType>(options: SubscribeOptions<T>): Promise<Subscription> {
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { group: options.group, adapter: "memory" });
    let group = this.#groups.get(options.group);
    if (group === undefined) {
      group = new Group(options.group);
      this.#groups.set(options.group, group);
    }
    // Like a durable consumer created now (deliver policy "new"): a group receives what is
    // published after it first subscribed, and keeps its queue while it has no subscriber.
    for (const type of options.types) group.types.add(type);
    const inFlight = new InFlight(options.concurrency ?? 1);
    const consumer: Consumer = {
      inFlight,
      unsettled: new Set(),
      closing: false,
      process: createDeliveryProcessor({
        group: options.group,
        types: options.types,
        handler: options.handler,
        policy: resolvePolicy(options),
        inbox: options.inbox ?? this.#inbox,
        logger: this.#logger,
        system: "memory",
        signal: inFlight.signal,
      }),
    };
    group.consumers.push(consumer);
    const theGroup = group;
    const subscription: Subscription = {
      group: options.group,
      close: async ({ graceMs = 5_000 } = {}) => {
        if (consumer.closing) return;
        consumer.closing = true;
        await inFlight.drain(graceMs);
        for (const release of consumer.unsettled) await release();
        theGroup.consumers.splice(theGroup.consumers.indexOf(consumer), 1);
        this.#subscriptions.delete(subscription);
        this.#pump(theGroup);
      },
    };
    this.#subscriptions.add(subscription);
    options.signal?.addEventListener("abort", () => void subscription.close(), { once: true });
    this.#pump(group);
    return subscription;
  }

  /** Messages queued per group and type (not yet delivered), and the dead letters held. */
  async stats(): Promise<BusStats> {
    const consumers = [...this.#groups.values()].flatMap((group) => {
      const pending = new Map<string, number>([...group.types].map((type) => [type, 0]));
      for (const message of group.queue) pending.set(message.type, (pending.get(message.type) ?? 0) + 1);
      return [...pending].map(([destination, count]) => ({ group: group.name, destination, pending: count, unacknowledged: 0 }));
    });
    return { consumers, deadLetters: this.#deadLetters.size };
  }

  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const all = [...this.#deadLetters.values()].filter((d) => options.group === undefined || d.group === options.group);
    return all.slice(0, options.limit ?? all.length);
  }

  async replayDeadLetter(id: string): Promise<void> {
    const dead = this.#deadLetters.get(id);
    if (dead === undefined) throw new BusError("NotFound", `no dead letter ${id}`, false, { adapter: "memory" });
    const group = this.#groups.get(dead.group);
    if (group === undefined) throw new BusError("NotFound", `group ${dead.group} has no subscribers`, true, { group: dead.group, adapter: "memory" });
    this.#deadLetters.delete(id);
    this.#enqueue(group, { type: dead.eventType ?? "", body: payloadBytes(dead.payload, dead.payloadEncoding), headers: {}, attempts: 0 });
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    return this.#deadLetters.delete(id);
  }

  async close({ graceMs = 5_000 }: { graceMs?: number } = {}): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close({ graceMs })));
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #forgetOldIds(now: number): void {
    if (this.#seenIds.size < 10_000) return;
    for (const [id, at] of this.#seenIds) {
      if (now - at < this.#windowMs) break;
      this.#seenIds.delete(id);
    }
  }

  #enqueue(group: Group, message: Message, front = false): void {
    if (front) group.queue.unshift(message);
    else group.queue.push(message);
    this.#pump(group);
  }

  #later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, delayMs);
    this.#timers.add(timer);
  }

  /** Hands queued messages to consumers with spare capacity, round-robin. */
  #pump(group: Group): void {
    while (group.queue.length > 0) {
      const ready = group.consumers.filter((c) => !c.closing && c.inFlight.size < c.inFlight.limit);
      if (ready.length === 0) return;
      const consumer = ready[group.next++ % ready.length];
      const message = group.queue.shift();
      if (consumer === undefined || message === undefined) return;
      message.attempts += 1;
      consumer.inFlight.track(this.#deliver(group, consumer, message));
    }
  }

  async #deliver(group: Group, consumer: Consumer, message: Message): Promise<void> {
    let settled = false;
    const once = (action: () => void) => async () => {
      if (settled) return;
      settled = true;
      action();
    };
    const delivery: Delivery = {
      body: message.body,
      headers: message.headers,
      attempt: message.attempts,
      destination: message.type,
      ack: once(() => undefined),
      retry: (delayMs) => once(() => this.#later(delayMs, () => this.#enqueue(group, message)))(),
      release: once(() => {
        this.#enqueue(group, message, true);
      }),
      deadLetter: (draft) =>
        once(() => {
          const id = randomUUID();
          this.#deadLetters.set(id, { id, ...deadLetterFromDraft(draft) });
        })(),
      heartbeat: () => undefined,
    };
    consumer.unsettled.add(delivery.release);
    try {
      await consumer.process(delivery);
    } catch (error) {
      this.#logger.error({ err: String(error), group: group.name }, "settling a delivery failed; redelivering");
      if (!settled) {
        settled = true;
        this.#enqueue(group, message);
      }
    } finally {
      consumer.unsettled.delete(delivery.release);
      setImmediate(() => this.#pump(group));
    }
  }
}
