import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect, credsAuthenticator, headers as natsHeaders, nanos, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { AnyEvent, EventType } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { BusError, type BusErrorCode } from "./errors.js";
import { InFlight } from "./in-flight.js";
import { MemoryInbox } from "./inbox.js";
import type { BusStats, DeadLetter, EventBus, ListDeadLettersOptions, PublishOptions, PublishReceipt, SubscribeOptions, Subscription } from "./port.js";
import { publishWith } from "./publishing.js";
import { createDeliveryProcessor, deadLetterFromDraft, payloadBytes, resolvePolicy, type DeadLetterDraft, type Delivery } from "./runner.js";

/** Options for {@link connectNatsBus}. */
export interface NatsBusOptions {
  /** `nats://host:port`, one or several. */
  servers: string | string[];
  logger: Logger;
  /** Deployment prefix: subjects are `<prefix>.<event type>`, the stream `RETRAIN_<PREFIX>`. Default `retrain`. */
  prefix?: string;
  /** Connection name shown by the server. */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** NKEY seed (`SU…`) for nkey authentication. */
  nkeySeed?: string;
  /** Path of a `.creds` file (user JWT and nkey seed), read at connect. */
  credsFile?: string;
  /** TLS: the CA that signed the server's certificate, and a client certificate for mutual TLS (PEM file paths). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How long the stream keeps events (for late consumer groups and dead-letter replay). Default 7 days. */
  maxAgeMs?: number;
  /** The broker's publish-dedupe window for `Nats-Msg-Id`. Default 120 000 ms. */
  duplicateWindowMs?: number;
  /** Stream replicas (3 in a production cluster). Default 1. */
  replicas?: number;
}

const GROUP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A dead letter as stored in the DLQ stream: the entry plus the trace headers of the original. */
type DeadLetterRecord = Omit<DeadLetter, "id"> & { headers: Record<string, string> };

/**
 * Connects to NATS and makes sure the deployment's streams exist: one stream for events
 * (`<prefix>.>`, file storage) and one for dead letters (`<prefix>_dlq.>`). JetStream has no
 * dead-letter queue of its own, so the runner writes each dead letter there, with the original
 * bytes, before terminating the delivery.
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const prefix = options.prefix ?? "retrain";
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new BusError("InvalidArgument", `invalid prefix "${prefix}"`, false, { adapter: "nats" });
  let nc: NatsConnection;
  try {
    const authenticator =
      options.credsFile !== undefined
        ? credsAuthenticator(await readFile(options.credsFile))
        : options.nkeySeed !== undefined
          ? nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed))
          : undefined;
    nc = await connect({
      servers: options.servers,
      name: options.name ?? "retrain",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.pass !== undefined ? { pass: options.pass } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(authenticator !== undefined ? { authenticator } : {}),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
    });
  } catch (error) {
    throw translate(error, "ConnectionFailed", `cannot connect to NATS at ${String(options.servers)}`);
  }
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `RETRAIN_${prefix.toUpperCase().replace(/-/g, "_")}`;
    const common = {
      storage: StorageType.File,
      num_replicas: options.replicas ?? 1,
      max_age: nanos(options.maxAgeMs ?? 7 * 24 * 3_600_000),
    };
    await ensureStream(jsm, { ...common, name: stream, subjects: [`${prefix}.>`], duplicate_window: nanos(options.duplicateWindowMs ?? 120_000) });
    await ensureStream(jsm, { ...common, name: `${stream}_DLQ`, subjects: [`${prefix}_dlq.>`], duplicate_window: nanos(options.duplicateWindowMs ?? 120_000) });
    return new NatsBus(nc, jsm, jetstream(nc), { prefix, stream, dlq: `${stream}_DLQ`, logger: options.logger });
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw translate(error, "ConnectionFailed", "cannot set up JetStream streams");
  }
}

async function ensureStream(jsm: JetStreamManager, config: Parameters<JetStreamManager["streams"]["add"]>[0]): Promise<void> {
  try {
    await jsm.streams.add(config);
  } catch (error) {
    // Exists with other settings (e.g. created by an operator): keep theirs, as long as it is there.
    if (config.name === undefined) throw error;
    await jsm.streams.info(config.name);
  }
}

function translate(error: unknown, code: BusErrorCode, message: string, context: ConstructorParameters<typeof BusError>[3] = {}): BusError {
  if (error instanceof BusError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const timeout = /timeout/i.test(text) || (error instanceof Error && error.name === "TimeoutError");
  return new BusError(timeout ? "Timeout" : code, `${message}: ${text}`, true, { ...context, adapter: "nats" }, { cause: error });
}

/** How long subscribing keeps retrying a consumer the server was too busy (or away) to create. */
const CONSUMER_SETUP_PATIENCE_MS = 60_000;

/** A failure that says nothing about the request itself: the server was slow, away or restarting. */
function isTransient(error: unknown): boolean {
  const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  return /timeout|timed out|disconnect|connection closed|no responders|503/i.test(text);
}

function durableName(group: string, suffix: string): string {
  return `${group}__${suffix.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/** The NATS JetStream adapter. Create it with {@link connectNatsBus}. */
export class NatsBus implements EventBus {
  readonly kind = "nats";
  readonly #subscriptions = new Set<Subscription>();
  // Durables this process consumes from, for stats(): group and subject by durable name.
  readonly #durables = new Map<string, { group: string; destination: string }>();
  readonly #inbox = new MemoryInbox();
  readonly #prefix: string;
  readonly #stream: string;
  readonly #dlq: string;
  readonly #logger: Logger;
  #closed = false;
  #pendingAcks: JsMsg[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    settings: { prefix: string; stream: string; dlq: string; logger: Logger },
  ) {
    this.#prefix = settings.prefix;
    this.#stream = settings.stream;
    this.#dlq = settings.dlq;
    this.#logger = settings.logger;
  }

  /** The subject an event type travels on. */
  subjectFor(type: string): string {
    return `${this.#prefix}.${type}`;
  }

  async publish(event: AnyEvent, options: PublishOptions = {}): Promise<PublishReceipt> {
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { eventId: event.id, adapter: "nats" });
    const subject = this.subjectFor(event.type);
    return publishWith(event, "nats", subject, async ({ body, headers }) => this.#send(subject, body, headers, options.messageId ?? event.id, event));
  }

  /** Publishes raw bytes on an event type's subject, as a foreign producer might (poison tests, tooling). */
  async publishRaw(type: string, body: Uint8Array, messageId: string = randomUUID()): Promise<PublishReceipt> {
    return this.#send(this.subjectFor(type), body, {}, messageId);
  }

  async #send(subject: string, body: Uint8Array, hdrs: Record<string, string>, messageId: string, event?: AnyEvent): Promise<PublishReceipt> {
    let h: ReturnType<typeof natsHeaders> | undefined;
    for (const key in hdrs) {
      h ??= natsHeaders();
      h.set(key, hdrs[key] ?? "");
    }
    try {
      const ack = await this.js.publish(subject, body, { msgID: messageId, ...(h !== undefined ? { headers: h } : {}) });
      return { duplicate: ack.duplicate };
    } catch (error) {
      throw translate(error, "PublishFailed", `publish to ${subject} failed`, event ? { eventId: event.id, eventType: event.type } : {});
    }
  }

  async subscribe<T extends EventType>(options: SubscribeOptions<T>): Promise<Subscription> {
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { group: options.group, adapter: "nats" });
    if (!GROUP_NAME.test(options.group)) {
      throw new BusError("InvalidArgument", `group "${options.group}" must be 1-64 letters, digits, '-' or '_'`, false, { adapter: "nats" });
    }
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    const inFlight = new InFlight(options.concurrency ?? 1);
    const prefetch = Math.max(1, options.concurrency ?? 1);
    const process = createDeliveryProcessor({
      group: options.group,
      types: options.types,
      handler: options.handler,
      policy: resolvePolicy(options),
      inbox: options.inbox ?? this.#inbox,
      logger: this.#logger,
      system: "nats",
      signal: inFlight.signal,
    });
    const streams: ConsumerMessages[] = [];
    // One ticker per subscription keeps every long-running delivery alive; a crashed process stops
    // ticking and its deliveries go to another consumer after ack_wait.
    const active = new Set<NatsDelivery>();
    const ticker = setInterval(() => {
      for (const delivery of active) delivery.heartbeat();
    }, Math.max(250, Math.floor(ackWaitMs / 3)));
    ticker.unref();
    const loops: Promise<void>[] = [];
    let closing = false;
    try {
      for (const type of options.types) {
        // Server 2.9 takes one filter subject per consumer: one durable per (group, type), plus one
        // per (group, type) for dead-letter replays, which must reach this group only.
        for (const [durable, filter] of [
          [durableName(options.group, type), this.subjectFor(type)],
          [durableName(options.group, `replay-${type}`), `${this.#prefix}._replay.${options.group}.${type}`],
        ] as const) {
          await this.#ensureConsumer(durable, filter, ackWaitMs);
          this.#durables.set(durable, { group: options.group, destination: filter });
          const consumer = await this.js.consumers.get(this.#stream, durable);
          const messages = await consumer.consume({ max_messages: prefetch });
          streams.push(messages);
          loops.push(this.#loop(messages, inFlight, process, active, () => closing));
        }
      }
    } catch (error) {
      clearInterval(ticker);
      for (const messages of streams) messages.stop();
      throw translate(error, "ConnectionFailed", `cannot subscribe group ${options.group}`, { group: options.group });
    }
    const subscription: Subscription = {
      group: options.group,
      close: async ({ graceMs = 5_000 } = {}) => {
        if (closing) return;
        closing = true;
        for (const messages of streams) messages.stop();
        await inFlight.drain(graceMs);
        // Handlers that ignored the abort are abandoned: their deliveries go back unacked.
        for (const delivery of active) delivery.abandon();
        active.clear();
        clearInterval(ticker);
        await Promise.allSettled(loops);
        await this.nc.flush().catch(() => undefined);
        this.#subscriptions.delete(subscription);
      },
    };
    this.#subscriptions.add(subscription);
    options.signal?.addEventListener("abort", () => void subscription.close(), { once: true });
    return subscription;
  }

  async #ensureConsumer(durable: string, filter: string, ackWaitMs: number): Promise<void> {
    const config = {
      durable_name: durable,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      // A group receives what is published after its consumer was first created; an existing
      // durable keeps its position. Deployments create consumers before traffic (setup job / start).
      deliver_policy: DeliverPolicy.New,
      ack_wait: nanos(ackWaitMs),
      // The runner counts attempts and dead-letters; the server must never stop delivering first.
      max_deliver: -1,
      max_ack_pending: 10_000,
    };
    // A busy or restarting server can time out a JetStream API call; a service that gave up here would
    // run without its consumer (or exit at start), so transient failures are retried for a while.
    const deadline = Date.now() + CONSUMER_SETUP_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        try {
          await this.jsm.consumers.add(this.#stream, config);
        } catch (error) {
          if (isTransient(error)) throw error;
          // It exists (with other settings): keep its position, take ours for the rest.
          await this.jsm.consumers.update(this.#stream, durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
        }
        return;
      } catch (error) {
        if (!isTransient(error) || Date.now() >= deadline) throw error;
        this.#logger.warn({ durable, attempt, err: error }, "creating a JetStream consumer failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 250 * 2 ** attempt))); // time-based by design: backoff before asking a busy server again
      }
    }
  }

  async #loop(
    messages: ConsumerMessages,
    inFlight: InFlight,
    process: (delivery: Delivery) => Promise<unknown>,
    active: Set<NatsDelivery>,
    closing: () => boolean,
  ): Promise<void> {
    for await (const msg of messages) {
      if (closing()) {
        msg.nak(); // prefetched but not started: give it straight back
        continue;
      }
      if (inFlight.size >= inFlight.limit) await inFlight.capacity();
      if (closing()) {
        msg.nak();
        continue;
      }
      inFlight.track(this.#deliver(msg, process, active));
    }
  }

  async #deliver(msg: JsMsg, process: (delivery: Delivery) => Promise<unknown>, active: Set<NatsDelivery>): Promise<void> {
    const delivery = new NatsDelivery(msg, this.#settler);
    active.add(delivery);
    try {
      await process(delivery);
    } catch (error) {
      // Settling failed (e.g. the connection dropped): the delivery times out and comes back.
      this.#logger.error({ err: String(error), subject: msg.subject }, "settling a NATS delivery failed");
    } finally {
      active.delete(delivery);
    }
  }

  // What a delivery needs of its bus, made once rather than as closures per message.
  readonly #settler: Settler = {
    ackSoon: (msg) => this.#ackSoon(msg),
    deadLetter: (draft, headers, streamSeq) => this.#storeDeadLetter(draft, headers, streamSeq),
  };

  /**
   * Acks are fire-and-forget protocol writes; the client flushes its buffer in a microtask, so acks
   * from handlers finishing at different moments each cost a socket write. Collecting them until
   * the next macrotask turns a burst of acks into one write (a lost ack means a redelivery, which the
   * inbox absorbs, exactly as without batching).
   */
  #ackSoon(msg: JsMsg): void {
    if (this.#pendingAcks.length === 0) {
      setImmediate(() => {
        const acks = this.#pendingAcks;
        this.#pendingAcks = [];
        for (const m of acks) m.ack();
      });
    }
    this.#pendingAcks.push(msg);
  }

  async #storeDeadLetter(draft: DeadLetterDraft, hdrs: Record<string, string>, streamSeq: number): Promise<void> {
    const record: DeadLetterRecord = { ...deadLetterFromDraft(draft), headers: hdrs };
    // Msg id from the original's stream sequence: a crash between this publish and the term
    // redelivers, and the second dead-lettering is deduped by the broker.
    await this.#send(`${this.#prefix}_dlq.${draft.group}`, Buffer.from(JSON.stringify(record)), {}, `dlq-${draft.group}-${streamSeq}`);
  }

  /** Consumer info (num_pending, num_ack_pending) of this process's durables, and the DLQ stream's message count. */
  async stats(): Promise<BusStats> {
    const consumers = await Promise.all(
      [...this.#durables].map(async ([durable, { group, destination }]) => {
        const info = await this.jsm.consumers.info(this.#stream, durable).catch(() => undefined);
        return info === undefined ? undefined : { group, destination, pending: info.num_pending, unacknowledged: info.num_ack_pending };
      }),
    );
    const dlq = await this.jsm.streams.info(this.#dlq).catch((error: unknown) => {
      throw translate(error, "Unavailable", "cannot read the dead-letter stream");
    });
    return { consumers: consumers.filter((c) => c !== undefined), deadLetters: dlq.state.messages };
  }

  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 1000;
    const info = await this.jsm.streams.info(this.#dlq).catch((error: unknown) => {
      throw translate(error, "Unavailable", "cannot read the dead-letter stream");
    });
    const out: DeadLetter[] = [];
    if (info.state.messages === 0) return out;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
      const record = await this.#readDeadLetter(seq);
      if (record === undefined) continue;
      if (options.group !== undefined && record.group !== options.group) continue;
      out.push(toDeadLetter(String(seq), record));
    }
    return out;
  }

  async #readDeadLetter(seq: number): Promise<DeadLetterRecord | undefined> {
    try {
      const stored = await this.jsm.streams.getMessage(this.#dlq, { seq });
      if (stored === null) return undefined;
      return JSON.parse(Buffer.from(stored.data).toString("utf8")) as DeadLetterRecord;
    } catch {
      return undefined; // deleted (replayed or dropped)
    }
  }

  async replayDeadLetter(id: string): Promise<void> {
    const seq = Number(id);
    const record = Number.isSafeInteger(seq) ? await this.#readDeadLetter(seq) : undefined;
    if (record === undefined) throw new BusError("NotFound", `no dead letter ${id}`, false, { adapter: "nats" });
    const type = record.eventType ?? "unknown";
    const hdrs: Record<string, string> = {};
    for (const key of ["traceparent", "tracestate"]) {
      const value = record.headers[key];
      if (value !== undefined) hdrs[key] = value;
    }
    // Same CloudEvent id, fresh transport id: the broker's duplicate window must not swallow it.
    await this.#send(
      `${this.#prefix}._replay.${record.group}.${type}`,
      payloadBytes(record.payload, record.payloadEncoding),
      hdrs,
      `${record.eventId ?? "raw"}:replay:${randomUUID()}`,
    );
    await this.jsm.streams.deleteMessage(this.#dlq, seq).catch(() => false);
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    const seq = Number(id);
    if (!Number.isSafeInteger(seq)) return false;
    return this.jsm.streams.deleteMessage(this.#dlq, seq).catch(() => false);
  }

  /** Deletes the deployment's streams (tests use a unique prefix per run and clean up with this). */
  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.#stream).catch(() => false);
    await this.jsm.streams.delete(this.#dlq).catch(() => false);
  }

  async close({ graceMs = 5_000 }: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close({ graceMs })));
    await this.nc.flush().catch(() => undefined);
    await this.nc.close().catch(() => undefined);
  }

  /** Drops the connection without settling anything, as a killed process would (tests). */
  async abandon(): Promise<void> {
    this.#closed = true;
    await this.nc.close().catch(() => undefined);
  }
}

interface Settler {
  ackSoon(msg: JsMsg): void;
  deadLetter(draft: DeadLetterDraft, headers: Record<string, string>, streamSeq: number): Promise<void>;
}

/** One JetStream message as the runner sees it; settles through its bus. */
class NatsDelivery implements Delivery {
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
  readonly attempt: number;
  readonly destination: string;

  constructor(
    private readonly msg: JsMsg,
    private readonly settler: Settler,
  ) {
    this.body = msg.data;
    this.attempt = msg.info.deliveryCount;
    this.destination = msg.subject;
    // Only trace context is read from headers; fetch those two instead of copying them all.
    const headers: Record<string, string> = {};
    if (msg.headers) {
      const traceparent = msg.headers.get("traceparent");
      const tracestate = msg.headers.get("tracestate");
      if (traceparent) headers["traceparent"] = traceparent;
      if (tracestate) headers["tracestate"] = tracestate;
    }
    this.headers = headers;
  }

  async ack(): Promise<void> {
    this.settler.ackSoon(this.msg);
  }

  async retry(delayMs: number): Promise<void> {
    this.msg.nak(delayMs);
  }

  async release(): Promise<void> {
    this.msg.nak();
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    await this.settler.deadLetter(draft, this.headers, this.msg.seq);
    // No reason text: nats-server 2.9 ignores a "+TERM <reason>" ack (the reason form is 2.10+), so the
    // message would stay unacknowledged and come back after ack_wait. The reason is in the dead letter.
    this.msg.term();
  }

  heartbeat(): void {
    this.msg.working();
  }

  /** Gives the message back unsettled (its handler was abandoned at close). */
  abandon(): void {
    this.msg.nak();
  }
}

function toDeadLetter(id: string, record: DeadLetterRecord): DeadLetter {
  const { headers: _headers, ...entry } = record;
  return { id, ...entry };
}
