import { randomUUID } from "node:crypto";
import type {
  MessageHandlers,
  ServiceBusAdministrationClient,
  ServiceBusClient,
  ServiceBusMessage,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSender,
} from "@azure/service-bus";
import type { TokenCredential } from "@azure/identity";
import Long from "long";
import type { AnyEvent, EventType } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { BusError } from "./errors.js";
import { InFlight } from "./in-flight.js";
import { MemoryInbox } from "./inbox.js";
import type {
  BusStats,
  ConsumerBacklog,
  DeadLetter,
  DeadLetterReason,
  EventBus,
  ListDeadLettersOptions,
  PublishOptions,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
} from "./port.js";
import { publishWith } from "./publishing.js";
import { createDeliveryProcessor, payloadText, resolvePolicy, type DeadLetterDraft, type Delivery } from "./runner.js";
import {
  administrationClient,
  ensureSubscription,
  serviceBusClient,
  ensureTopic,
  EVENT_TYPE_PROPERTY,
  REPLAY_GROUP_PROPERTY,
  syncRules,
  translateServiceBusError,
  type ServiceBusAccess,
  type ServiceBusEntitySettings,
} from "./servicebus-topology.js";

/** Options for {@link connectServiceBusBus}. Give `connectionString`, or `namespace` (Entra ID). */
export interface ServiceBusBusOptions extends ServiceBusEntitySettings {
  /** A SAS connection string, or the emulator's / test peer's (`UseDevelopmentEmulator=true`). */
  connectionString?: string;
  /** `<name>.servicebus.windows.net`, authenticated with `credential`. */
  namespace?: string;
  /** Credential for `namespace`. Default: `DefaultAzureCredential`. */
  credential?: TokenCredential;
  logger: Logger;
  /** The deployment's topic. Default `retrain`. */
  topic?: string;
  /**
   * Create the topic and each group's subscription with the administration client (HTTPS) when
   * missing. Default true. Set false where entities are provisioned ahead (the topology script,
   * the emulator's config, the test peer); subscription rules are set over AMQP either way.
   */
  createEntities?: boolean;
  /** Groups whose dead letters `listDeadLetters()` without a group reads, besides those subscribed here (only needed with `createEntities: false`). */
  deadLetterGroups?: readonly string[];
  /** Client identifier shown in the namespace's diagnostics. */
  name?: string;
}

/** Subscription names: Service Bus allows 1-50 of these characters. */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;
const GROUP_PROPERTY = "retrain-group";
const ATTEMPTS_PROPERTY = "retrain-attempts";
const EVENT_ID_PROPERTY = "retrain-event-id";
const DEAD_LETTERED_AT_PROPERTY = "retrain-dead-lettered-at";
/** Messages counted by peeking, per entity, when the administration API is not used. */
const PEEK_COUNT_CAP = 1_000;
/** Service Bus keeps at most 4 096 characters of a dead-letter description. */
const MAX_DESCRIPTION = 4_096;

/**
 * Connects to a Service Bus namespace for one deployment: one topic, and one subscription per
 * consumer group filtered by event type. Creates the topic when `createEntities` (default), and
 * opens the topic's sender so a wrong address or credential fails here, not at the first publish.
 */
export async function connectServiceBusBus(options: ServiceBusBusOptions): Promise<ServiceBusBus> {
  const topic = options.topic ?? "retrain";
  let access: ServiceBusAccess;
  if (options.connectionString !== undefined) {
    access = { connectionString: options.connectionString };
  } else if (options.namespace !== undefined) {
    access = { namespace: options.namespace, ...(options.credential !== undefined ? { credential: options.credential } : {}) };
  } else {
    throw new BusError("InvalidArgument", "Service Bus needs a connection string or a namespace", false, { adapter: "servicebus" });
  }
  const client = await serviceBusClient(access, options.name !== undefined ? { identifier: options.name } : {});
  const admin = options.createEntities === false ? undefined : await administrationClient(access);
  try {
    if (admin !== undefined) await ensureTopic(admin, topic, options);
    const sender = client.createSender(topic);
    // Opens the link: the topic must exist and the credential must be allowed to send.
    await sender.createMessageBatch();
    return new ServiceBusBus(client, sender, admin, { ...options, topic });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw translateServiceBusError(error, "ConnectionFailed", `cannot connect to Service Bus topic ${topic}`);
  }
}

/** The Azure Service Bus adapter. Create it with {@link connectServiceBusBus}. */
export class ServiceBusBus implements EventBus {
  readonly kind = "servicebus";
  readonly #subscriptions = new Set<Subscription>();
  readonly #inbox = new MemoryInbox();
  readonly #groups = new Set<string>();
  /** Message ids this client sent recently: Service Bus drops duplicates without saying so. */
  readonly #sentIds = new Map<string, number>();
  readonly #topic: string;
  readonly #logger: Logger;
  readonly #settings: ServiceBusBusOptions;
  readonly #duplicateWindowMs: number;
  #closed = false;

  constructor(
    private readonly client: ServiceBusClient,
    private readonly sender: ServiceBusSender,
    private readonly admin: ServiceBusAdministrationClient | undefined,
    settings: ServiceBusBusOptions & { topic: string },
  ) {
    this.#topic = settings.topic;
    this.#logger = settings.logger;
    this.#settings = settings;
    this.#duplicateWindowMs = settings.duplicateWindowMs ?? 120_000;
    for (const group of settings.deadLetterGroups ?? []) this.#groups.add(group);
  }

  /** The deployment's topic. */
  get topic(): string {
    return this.#topic;
  }

  async publish(event: AnyEvent, options: PublishOptions = {}): Promise<PublishReceipt> {
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { eventId: event.id, adapter: "servicebus" });
    return publishWith(event, "servicebus", this.#topic, async ({ body, headers }) => {
      const messageId = options.messageId ?? event.id;
      // Sent even when seen: the broker's window is the authority across processes; this only
      // reports what this client can know.
      const duplicate = this.#seenRecently(messageId);
      await this.#send(
        {
          body,
          messageId,
          contentType: "application/cloudevents+json; charset=utf-8",
          subject: event.type,
          applicationProperties: { [EVENT_TYPE_PROPERTY]: event.type, ...traceProperties(headers) },
        },
        { eventId: event.id, eventType: event.type },
        options.signal,
      );
      return { duplicate };
    });
  }

  /** Publishes raw bytes with an event type's routing, as a foreign producer might (poison tests, tooling). */
  async publishRaw(type: string, body: Uint8Array, messageId: string = randomUUID()): Promise<PublishReceipt> {
    await this.#send({ body: Buffer.from(body), messageId, subject: type, applicationProperties: { [EVENT_TYPE_PROPERTY]: type } }, { eventType: type });
    return { duplicate: false };
  }

  async #send(message: ServiceBusMessage, context: { eventId?: string; eventType?: string }, signal?: AbortSignal): Promise<void> {
    try {
      await this.sender.sendMessages(message, signal !== undefined ? { abortSignal: signal } : {});
    } catch (error) {
      throw translateServiceBusError(error, "PublishFailed", `publish to topic ${this.#topic} failed`, context);
    }
  }

  #seenRecently(messageId: string): boolean {
    const now = Date.now();
    const at = this.#sentIds.get(messageId);
    this.#sentIds.delete(messageId);
    this.#sentIds.set(messageId, now);
    if (this.#sentIds.size > 10_000) {
      for (const [id, t] of this.#sentIds) {
        if (now - t < this.#duplicateWindowMs) break;
        this.#sentIds.delete(id);
      }
    }
    return at !== undefined && now - at < this.#duplicateWindowMs;
  }

  async subscribe<T extends EventType>(options: SubscribeOptions<T>): Promise<Subscription> {
    const group = options.group;
    if (this.#closed) throw new BusError("Closed", "the bus is closed", false, { group, adapter: "servicebus" });
    if (!GROUP_NAME.test(group)) {
      throw new BusError("InvalidArgument", `group "${group}" must be 1-50 letters, digits, '.', '-' or '_' (a subscription name)`, false, {
        group,
        adapter: "servicebus",
      });
    }
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    if (this.admin !== undefined) await ensureSubscription(this.admin, this.#topic, group, { ...this.#settings, lockDurationMs: ackWaitMs });
    try {
      await syncRules(this.client, this.#topic, group, options.types);
    } catch (error) {
      // Rules are managed with Manage rights; a sender/listener identity relies on provisioned ones.
      if (!(error instanceof BusError && error.code === "ConnectionFailed" && !error.retryable)) throw error;
      this.#logger.warn({ group, err: error.message }, "cannot set this subscription's rules; relying on the provisioned ones (scripts/servicebus-topology.mjs)");
    }
    this.#groups.add(group);

    const inFlight = new InFlight(options.concurrency ?? 1);
    const process = createDeliveryProcessor({
      group,
      types: options.types,
      handler: options.handler,
      policy: resolvePolicy(options),
      inbox: options.inbox ?? this.#inbox,
      logger: this.#logger,
      system: "servicebus",
      signal: inFlight.signal,
    });
    // The runner's heartbeat and this ticker renew locks; the SDK's own renewer would keep renewing
    // for handlers abandoned at close.
    const receiver = this.client.createReceiver(this.#topic, group, { receiveMode: "peekLock", skipParsingBodyAsJson: true, maxAutoLockRenewalDurationInMs: 0 });
    const destination = `${this.#topic}/Subscriptions/${group}`;
    const state: SubscriptionState = { receiver, group, destination, logger: this.#logger, active: new Set(), held: new Set(), closing: false, ackWaitMs };
    // One ticker per subscription keeps every long-running (or backing-off) delivery locked; a
    // crashed process stops ticking and its messages return when their locks expire. It ticks often
    // enough for the shortest lock Service Bus has (5 s), whatever the subscription was created with.
    const ticker = setInterval(() => {
      for (const delivery of state.active) delivery.renewIfDue();
      for (const delivery of state.held) delivery.renewIfDue();
    }, Math.max(200, Math.floor(Math.min(ackWaitMs, 5_000) / 4)));
    ticker.unref();
    let linkedSettled = false;
    let markLinked: (error?: BusError) => void = () => undefined;
    const linked = new Promise<void>((resolve, reject) => {
      markLinked = (error) => {
        if (linkedSettled) return;
        linkedSettled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    const handlers: MessageHandlers & { postInitialize(): Promise<void> } = {
      // Not in the client's typings: called once the receive link is attached, just before it
      // grants credit (7.9.x). subscribe() resolves then, like a NATS consumer that exists.
      postInitialize: async () => markLinked(),
      processMessage: async (message: ServiceBusReceivedMessage) => {
        if (state.closing) {
          await receiver.abandonMessage(message).catch(() => undefined);
          return;
        }
        const delivery = new ServiceBusDelivery(message, state);
        state.active.add(delivery);
        const work = this.#deliver(delivery, process);
        inFlight.track(work);
        await work;
      },
      processError: async ({ error }) => {
        const translated = translateServiceBusError(error, "Unavailable", `receiving for group ${group} failed`, { group });
        markLinked(translated);
        if (state.closing) return;
        this.#logger.warn({ group, err: String(translated) }, "Service Bus receive error; the client retries");
      },
    };
    const stream = receiver.subscribe(handlers, { autoCompleteMessages: false, maxConcurrentCalls: Math.max(1, options.concurrency ?? 1) });
    try {
      await linked;
    } catch (error) {
      clearInterval(ticker);
      await stream.close().catch(() => undefined);
      await receiver.close().catch(() => undefined);
      throw error;
    }
    // The credit grant follows the attach in the same turn; let it go out before publishers race it.
    await new Promise((resolve) => setImmediate(resolve));
    const subscription: Subscription = {
      group,
      close: async ({ graceMs = 5_000 } = {}) => {
        if (state.closing) return;
        state.closing = true;
        await stream.close().catch(() => undefined);
        await inFlight.drain(graceMs);
        // Handlers that ignored the abort, and deliveries waiting out a backoff, go back now.
        for (const delivery of [...state.active, ...state.held]) await delivery.giveBack();
        state.active.clear();
        state.held.clear();
        clearInterval(ticker);
        await receiver.close().catch(() => undefined);
        this.#subscriptions.delete(subscription);
        this.#states.delete(state);
      },
    };
    state.stop = () => {
      state.closing = true;
      clearInterval(ticker);
      for (const delivery of state.held) delivery.cancelHold();
    };
    this.#subscriptions.add(subscription);
    this.#states.add(state);
    options.signal?.addEventListener("abort", () => void subscription.close(), { once: true });
    return subscription;
  }

  readonly #states = new Set<SubscriptionState>();

  async #deliver(delivery: ServiceBusDelivery, process: (delivery: Delivery) => Promise<unknown>): Promise<void> {
    try {
      await process(delivery);
    } catch (error) {
      // Settling failed (lock lost, connection dropped): the lock expires and the message returns.
      this.#logger.error({ err: String(error), destination: delivery.destination }, "settling a Service Bus delivery failed");
    } finally {
      delivery.state.active.delete(delivery);
    }
  }

  /**
   * Backlog of the groups subscribed here and the dead-letter depth of the topic. With the
   * administration API: the subscriptions' runtime counts. Without it: counted by peeking (capped at
   * 1 000 per entity). `unacknowledged` is what this process holds locked; `pending` the rest.
   */
  async stats(): Promise<BusStats> {
    const consumers: ConsumerBacklog[] = [];
    let deadLetters = 0;
    try {
      if (this.admin !== undefined) {
        for await (const props of this.admin.listSubscriptionsRuntimeProperties(this.#topic)) {
          deadLetters += props.deadLetterMessageCount;
          const state = this.#stateOf(props.subscriptionName);
          if (state !== undefined) consumers.push(backlog(state, props.activeMessageCount));
        }
      } else {
        for (const group of [...this.#groups].sort()) {
          deadLetters += await this.#peekCount(group, "deadLetter");
          const state = this.#stateOf(group);
          if (state !== undefined) consumers.push(backlog(state, await this.#peekCount(group)));
        }
      }
    } catch (error) {
      throw translateServiceBusError(error, "Unavailable", `cannot read the counts of topic ${this.#topic}`);
    }
    return { consumers, deadLetters };
  }

  #stateOf(group: string): SubscriptionState | undefined {
    for (const state of this.#states) if (state.group === group && !state.closing) return state;
    return undefined;
  }

  async #peekCount(group: string, subQueueType?: "deadLetter"): Promise<number> {
    const receiver = this.client.createReceiver(this.#topic, group, { skipParsingBodyAsJson: true, ...(subQueueType !== undefined ? { subQueueType } : {}) });
    try {
      let count = 0;
      for await (const page of peekPages(receiver, PEEK_COUNT_CAP)) count += page.length;
      return count;
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }

  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 1000;
    const groups = options.group !== undefined ? [options.group] : await this.#knownGroups();
    const out: DeadLetter[] = [];
    for (const group of groups) {
      if (out.length >= limit) break;
      const receiver = this.client.createReceiver(this.#topic, group, { subQueueType: "deadLetter", skipParsingBodyAsJson: true });
      try {
        for await (const page of peekPages(receiver, limit - out.length)) {
          for (const message of page) out.push(toDeadLetter(group, message));
        }
      } catch (error) {
        throw translateServiceBusError(error, "Unavailable", `cannot read the dead letters of ${group}`, { group });
      } finally {
        await receiver.close().catch(() => undefined);
      }
    }
    return out;
  }

  async #knownGroups(): Promise<string[]> {
    const groups = new Set(this.#groups);
    if (this.admin !== undefined) {
      try {
        for await (const subscription of this.admin.listSubscriptions(this.#topic)) groups.add(subscription.subscriptionName);
      } catch (error) {
        throw translateServiceBusError(error, "Unavailable", `cannot list the subscriptions of ${this.#topic}`);
      }
    }
    return [...groups].sort();
  }

  async replayDeadLetter(id: string): Promise<void> {
    const { group, seq } = parseDeadLetterId(id);
    const found = await this.#withDeadLetter(group, seq, async (receiver, message) => {
      const body = bodyBytes(message.body);
      const eventId = stringProperty(message, EVENT_ID_PROPERTY) ?? eventField(body, "id");
      const trace: Record<string, string> = {};
      for (const key of ["traceparent", "tracestate", "Diagnostic-Id"]) {
        const value = stringProperty(message, key);
        if (value !== undefined) trace[key] = value;
      }
      // Same CloudEvent id, fresh transport id (the duplicate window must not swallow it), and only
      // the group's replay rule matches: other groups do not see it again.
      await this.#send(
        {
          body,
          messageId: `${eventId ?? "raw"}:replay:${randomUUID()}`,
          ...(message.contentType !== undefined ? { contentType: message.contentType } : {}),
          ...(message.subject !== undefined ? { subject: message.subject } : {}),
          applicationProperties: { [REPLAY_GROUP_PROPERTY]: group, ...trace },
        },
        eventId !== undefined ? { eventId } : {},
      );
      await receiver.completeMessage(message);
    });
    if (!found) throw new BusError("NotFound", `no dead letter ${id}`, false, { group, adapter: "servicebus" });
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    let parsed: { group: string; seq: string };
    try {
      parsed = parseDeadLetterId(id);
    } catch {
      return false;
    }
    return this.#withDeadLetter(parsed.group, parsed.seq, (receiver, message) => receiver.completeMessage(message));
  }

  /**
   * Locks the dead-letter queue's messages until the one with sequence number `seq`, runs `act` on
   * it, and gives the others back. Service Bus has no "receive this one" for dead letters.
   */
  async #withDeadLetter(
    group: string,
    seq: string,
    act: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<void>,
  ): Promise<boolean> {
    const receiver = this.client.createReceiver(this.#topic, group, { subQueueType: "deadLetter", skipParsingBodyAsJson: true, maxAutoLockRenewalDurationInMs: 0 });
    const passed: ServiceBusReceivedMessage[] = [];
    try {
      // One at a time: a batch receive waits a second after its first message for more, and the
      // locks of what it took would run down meanwhile.
      const seen = new Set<string>();
      for (;;) {
        const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
        if (message === undefined) return false;
        const at = String(message.sequenceNumber);
        if (at === seq) {
          await act(receiver, message);
          return true;
        }
        passed.push(message);
        if (seen.has(at)) return false; // came round again (its lock ran out): the queue was scanned
        seen.add(at);
      }
    } catch (error) {
      throw translateServiceBusError(error, "Unavailable", `cannot settle dead letter ${group}:${seq}`, { group });
    } finally {
      for (const message of passed) await receiver.abandonMessage(message).catch(() => undefined);
      await receiver.close().catch(() => undefined);
    }
  }

  async close({ graceMs = 5_000 }: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close({ graceMs })));
    await this.sender.close().catch(() => undefined);
    await this.client.close().catch(() => undefined);
  }

  /** Drops the connection without settling anything, as a killed process would (tests). */
  async abandon(): Promise<void> {
    this.#closed = true;
    for (const state of this.#states) state.stop?.();
    await this.client.close().catch(() => undefined);
  }
}

/** What the deliveries of one subscription share. */
interface SubscriptionState {
  readonly receiver: ServiceBusReceiver;
  readonly group: string;
  readonly destination: string;
  readonly logger: Logger;
  /** Deliveries whose handler is running. */
  readonly active: Set<ServiceBusDelivery>;
  /** Deliveries waiting out a retry backoff, locked. */
  readonly held: Set<ServiceBusDelivery>;
  /** The lock duration asked for, until a message shows the subscription's own. */
  readonly ackWaitMs: number;
  closing: boolean;
  stop?: () => void;
}

/** One peek-locked message as the runner sees it; settles through its subscription's receiver. */
class ServiceBusDelivery implements Delivery {
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
  readonly attempt: number;
  readonly destination: string;
  /** When the lock runs out, and how long a lock lasts on this subscription (from the message itself). */
  #lockedUntil: number;
  readonly #lockMs: number;
  #renewing = false;
  #holdTimer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    private readonly message: ServiceBusReceivedMessage,
    readonly state: SubscriptionState,
  ) {
    this.body = bodyBytes(message.body);
    // deliveryCount counts earlier deliveries (0 on the first); an abandon or an expired lock adds one.
    this.attempt = (message.deliveryCount ?? 0) + 1;
    this.destination = state.destination;
    const now = Date.now();
    this.#lockedUntil = message.lockedUntilUtc?.getTime() ?? now + state.ackWaitMs;
    this.#lockMs = Math.max(1_000, this.#lockedUntil - now);
    const headers: Record<string, string> = {};
    const traceparent = stringProperty(message, "traceparent") ?? stringProperty(message, "Diagnostic-Id");
    const tracestate = stringProperty(message, "tracestate");
    if (traceparent !== undefined) headers["traceparent"] = traceparent;
    if (tracestate !== undefined) headers["tracestate"] = tracestate;
    this.headers = headers;
  }

  async ack(): Promise<void> {
    this.#settled = true;
    await this.state.receiver.completeMessage(this.message);
  }

  /** Holds the lock for `delayMs` (renewed by the ticker), then abandons: redelivered with deliveryCount + 1. */
  async retry(delayMs: number): Promise<void> {
    if (delayMs <= 0 || this.state.closing) {
      await this.release();
      return;
    }
    this.state.held.add(this);
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      this.state.held.delete(this);
      void this.release().catch((error: unknown) => this.state.logger.warn({ err: String(error), destination: this.destination }, "abandoning after backoff failed; the lock expires instead"));
    }, delayMs);
    this.#holdTimer.unref();
  }

  async release(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    await this.state.receiver.abandonMessage(this.message);
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    this.#settled = true;
    await this.state.receiver.deadLetterMessage(this.message, {
      deadLetterReason: draft.reason,
      deadLetterErrorDescription: draft.description.slice(0, MAX_DESCRIPTION),
      [GROUP_PROPERTY]: draft.group,
      [ATTEMPTS_PROPERTY]: draft.attempts,
      [DEAD_LETTERED_AT_PROPERTY]: new Date().toISOString(),
      ...(draft.eventId !== undefined ? { [EVENT_ID_PROPERTY]: draft.eventId } : {}),
      ...(draft.eventType !== undefined ? { [EVENT_TYPE_PROPERTY]: draft.eventType } : {}),
    });
  }

  heartbeat(): void {
    this.renewIfDue();
  }

  /** Renews the lock once half of it has run (a heartbeat in between costs nothing). */
  renewIfDue(): void {
    if ((this.#settled && this.#holdTimer === undefined) || this.#renewing) return;
    if (this.#lockedUntil - Date.now() > this.#lockMs / 2) return;
    this.#renewing = true;
    this.state.receiver
      .renewMessageLock(this.message)
      .then((until) => {
        this.#lockedUntil = until.getTime();
      })
      .catch((error: unknown) => {
        this.state.logger.warn({ err: String(error), destination: this.destination }, "renewing a Service Bus lock failed");
      })
      .finally(() => {
        this.#renewing = false;
      });
  }

  /** Gives the message back now (close): a pending backoff ends early, a running handler is abandoned. */
  async giveBack(): Promise<void> {
    this.cancelHold();
    await this.release().catch(() => undefined);
  }

  cancelHold(): void {
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
  }
}

/**
 * Peeks an entity from its first message, page by page, up to `max` messages. The position is given
 * each time: the client keeps the last peeked position per entity and connection, across receivers.
 */
async function* peekPages(receiver: ServiceBusReceiver, max: number): AsyncGenerator<ServiceBusReceivedMessage[]> {
  let from = Long.fromNumber(0);
  let seen = 0;
  while (seen < max) {
    const page = await receiver.peekMessages(Math.min(250, max - seen), { fromSequenceNumber: from });
    if (page.length === 0) return;
    seen += page.length;
    yield page;
    const last = page[page.length - 1]?.sequenceNumber;
    if (last === undefined) return;
    from = last.add(1);
  }
}

/** A group's backlog: `held` messages (active, scheduled and locked alike), less those locked here. */
function backlog(state: SubscriptionState, held: number): ConsumerBacklog {
  const unacknowledged = state.active.size + state.held.size;
  return { group: state.group, destination: state.destination, pending: Math.max(0, held - unacknowledged), unacknowledged };
}

function traceProperties(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const traceparent = headers["traceparent"];
  if (traceparent !== undefined) {
    out["traceparent"] = traceparent;
    // What Azure's own clients and Application Insights read.
    out["Diagnostic-Id"] = traceparent;
  }
  const tracestate = headers["tracestate"];
  if (tracestate !== undefined) out["tracestate"] = tracestate;
  return out;
}

function stringProperty(message: ServiceBusReceivedMessage, key: string): string | undefined {
  const value = message.applicationProperties?.[key];
  return typeof value === "string" ? value : undefined;
}

function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return Buffer.from(JSON.stringify(body ?? null), "utf8");
}

function eventField(body: Buffer, field: "id" | "type"): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const value = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)[field] : undefined;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

const REASONS: ReadonlySet<string> = new Set<DeadLetterReason>(["SchemaInvalid", "MaxAttemptsExceeded", "NonRetryable"]);

function toDeadLetter(group: string, message: ServiceBusReceivedMessage): DeadLetter {
  const body = bodyBytes(message.body);
  const brokerReason = message.deadLetterReason ?? "unknown";
  // The broker's own dead-lettering (MaxDeliveryCountExceeded, TTL expiry, filter errors) maps to
  // the closest reason of ours; its words stay in the description.
  const reason: DeadLetterReason = REASONS.has(brokerReason)
    ? (brokerReason as DeadLetterReason)
    : brokerReason === "MaxDeliveryCountExceeded"
      ? "MaxAttemptsExceeded"
      : "NonRetryable";
  const description = message.deadLetterErrorDescription ?? "";
  const attempts = Number(message.applicationProperties?.[ATTEMPTS_PROPERTY] ?? message.deliveryCount ?? 0);
  const eventId = stringProperty(message, EVENT_ID_PROPERTY) ?? eventField(body, "id");
  const eventType = stringProperty(message, EVENT_TYPE_PROPERTY) ?? eventField(body, "type");
  return {
    id: `${group}:${String(message.sequenceNumber)}`,
    group: stringProperty(message, GROUP_PROPERTY) ?? group,
    reason,
    description: REASONS.has(brokerReason) ? description : `${brokerReason}: ${description}`,
    attempts,
    ...(eventId !== undefined ? { eventId } : {}),
    ...(eventType !== undefined ? { eventType } : {}),
    ...payloadText(body),
    deadLetteredAt: stringProperty(message, DEAD_LETTERED_AT_PROPERTY) ?? (message.enqueuedTimeUtc ?? new Date()).toISOString(),
  };
}

function parseDeadLetterId(id: string): { group: string; seq: string } {
  const at = id.lastIndexOf(":");
  const group = id.slice(0, at);
  const seq = id.slice(at + 1);
  if (at <= 0 || !/^\d+$/.test(seq)) throw new BusError("NotFound", `no dead letter ${id} (ids are <group>:<sequence number>)`, false, { adapter: "servicebus" });
  return { group, seq };
}
