// TEST SUPPORT ONLY — not a product feature and not a broker to run anything on.
//
// An AMQP 1.0 peer on `rhea` that answers the `@azure/service-bus` client the way Azure Service Bus
// does, for the parts Retrain uses: SASL ANONYMOUS, `$cbs` put-token, queues, topics with
// subscriptions and rules, peek-lock with lock tokens and expiry, complete / abandon / defer /
// dead-letter, the `$DeadLetterQueue` sub-queues, batches, duplicate detection, and `$management`
// (peek, renew-lock, schedule, cancel-scheduled, receive-by-sequence-number, update-disposition,
// add-rule, remove-rule). No Service Bus emulator runs without Docker, and no packaged broker
// answers the client's token requests; see the platform notes. Its own conformance tests
// (peer.test.ts) drive it with the real client.
import type { AddressInfo, Server } from "node:net";
import rhea, { type AmqpError, type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from "rhea";
import { compileFilter, UnsupportedFilterError, type PeerFilter } from "./filters.js";
import { LockLostError, MessageStore, type Disposition, type EntitySettings, type StoreConsumer, type StoredMessage } from "./store.js";

/** Options for {@link startServiceBusPeer}. */
export interface ServiceBusPeerOptions {
  /** Port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** Lock duration of entities created without one. Default 30 000 ms. */
  lockDurationMs?: number;
  /** Max delivery count of entities created without one. Default 10. */
  maxDeliveryCount?: number;
  /**
   * Create a subscription (with the `$Default` true rule) when a client first addresses one on an
   * existing topic. It stands in for the administration client, which speaks HTTPS the peer does
   * not serve. Default false: addressing a missing subscription fails with `amqp:not-found`.
   */
  autoCreateSubscriptions?: boolean;
}

/** Settings of a queue or subscription created through the peer. */
export interface PeerEntityOptions {
  lockDurationMs?: number;
  maxDeliveryCount?: number;
}

/** Settings of a queue or topic that receives sends. */
export interface PeerSendTargetOptions {
  /** Duplicate-detection window by message id; undefined: no duplicate detection (the broker's default). */
  duplicateDetectionWindowMs?: number;
}

/** A running peer. */
export interface ServiceBusPeer {
  /** `Endpoint=sb://127.0.0.1:<port>;…;UseDevelopmentEmulator=true` (plain TCP, no TLS). */
  readonly connectionString: string;
  readonly port: number;
  createQueue(name: string, options?: PeerEntityOptions & PeerSendTargetOptions): void;
  createTopic(name: string, options?: PeerSendTargetOptions): void;
  /** Creates a subscription with one rule: `$Default` with `filter` (default: true). */
  createSubscription(topic: string, name: string, options?: PeerEntityOptions & { filter?: PeerFilter }): void;
  /** Adds or replaces a rule of a subscription. */
  setRule(topic: string, subscription: string, rule: string, filter: PeerFilter): void;
  removeRule(topic: string, subscription: string, rule: string): boolean;
  /** Subscription names of a topic. */
  subscriptions(topic: string): string[];
  /** Message counts of an entity path (a queue, `<topic>/Subscriptions/<name>`, either's `/$DeadLetterQueue`). */
  counts(path: string): { active: number; locked: number; deferred: number; scheduled: number };
  /** Closes every client connection abruptly (as a network failure would); entities and messages stay. */
  dropConnections(): void;
  /** Client connections open now. */
  connections(): number;
  stop(): Promise<void>;
}

const BATCH_FORMAT = 0x80013700;
const MAX_MESSAGE_SIZE = 1024 * 1024;
const DEAD_LETTER_SUFFIX = "/$deadletterqueue";

/** A queue or subscription with its dead-letter sub-queue. */
interface Entity {
  readonly store: MessageStore;
  readonly deadLetters: MessageStore;
}

interface Subscription extends Entity {
  readonly name: string;
  readonly rules: Map<string, { filter: PeerFilter; matches: (m: Message) => boolean }>;
}

interface Queue extends Entity {
  readonly dedupe: Dedupe;
}

interface Topic {
  readonly name: string;
  readonly subscriptions: Map<string, Subscription>;
  readonly dedupe: Dedupe;
  /** Topic-level sequence numbers of scheduled messages → where each copy went (for cancel). */
  readonly scheduled: Map<number, Array<{ store: MessageStore; seq: number }>>;
  nextScheduledSeq: number;
}

/** Message ids seen within a window (the broker drops a repeat silently). */
class Dedupe {
  readonly #seen = new Map<string, number>();
  constructor(readonly windowMs: number | undefined) {}

  /** True when `id` was seen within the window (and so this copy must be dropped). */
  repeat(id: unknown): boolean {
    if (this.windowMs === undefined || id === undefined || id === null) return false;
    const key = String(id);
    const now = Date.now();
    const at = this.#seen.get(key);
    if (at !== undefined && now - at < this.windowMs) return true;
    this.#seen.delete(key);
    this.#seen.set(key, now);
    if (this.#seen.size > 100_000) {
      for (const [k, t] of this.#seen) {
        if (now - t < this.windowMs) break;
        this.#seen.delete(k);
      }
    }
    return false;
  }
}

/** Where a link's address points. */
type Resolved =
  | { readonly kind: "queue"; readonly queue: Queue }
  | { readonly kind: "topic"; readonly topic: Topic }
  | { readonly kind: "store"; readonly store: MessageStore; readonly subscription?: Subscription }
  | { readonly kind: "missing"; readonly description: string };

/** Application-level failure of a management request, answered with a status code. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the peer on 127.0.0.1. */
export async function startServiceBusPeer(options: ServiceBusPeerOptions = {}): Promise<ServiceBusPeer> {
  const peer = new Peer(options);
  await peer.listen(options.port ?? 0);
  return peer;
}

class Peer implements ServiceBusPeer {
  readonly #queues = new Map<string, Queue>();
  readonly #topics = new Map<string, Topic>();
  readonly #defaults: EntitySettings;
  readonly #autoCreate: boolean;
  readonly #connections = new Set<Connection>();
  /** What each outgoing delivery carried, to settle it when the client's disposition arrives. */
  readonly #outgoing = new WeakMap<Delivery, { store: MessageStore; token: string | undefined }>();
  readonly #consumers = new WeakMap<Sender, StoreConsumer & { store: MessageStore }>();
  #server: Server | undefined;
  port = 0;

  constructor(options: ServiceBusPeerOptions) {
    this.#defaults = { lockDurationMs: options.lockDurationMs ?? 30_000, maxDeliveryCount: options.maxDeliveryCount ?? 10 };
    this.#autoCreate = options.autoCreateSubscriptions ?? false;
  }

  get connectionString(): string {
    return `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=peer;SharedAccessKey=not-a-secret;UseDevelopmentEmulator=true`;
  }

  async listen(port: number): Promise<void> {
    // Settlements must be seen as sent (modified is abandon/defer, not release), and the peer
    // decides itself when to accept a transfer.
    const container = rhea.create_container({ treat_modified_as_released: false, autoaccept: false, autosettle: true });
    container.sasl_server_mechanisms.enable_anonymous();
    container.on("connection_open", (context: EventContext) => this.#connections.add(context.connection));
    const forget = (context: EventContext) => {
      this.#connections.delete(context.connection);
      context.connection.each_link((link: Sender | Receiver) => {
        if (link.is_sender()) this.#detach(link as Sender);
      });
    };
    container.on("connection_close", forget);
    container.on("disconnected", forget);
    container.on("receiver_open", (context: EventContext) => this.#receiverOpened(context));
    container.on("sender_open", (context: EventContext) => this.#senderOpened(context));
    container.on("message", (context: EventContext) => this.#message(context));
    container.on("sendable", (context: EventContext) => this.#sendable(context));
    container.on("sender_draining", (context: EventContext) => this.#sendable(context));
    container.on("sender_close", (context: EventContext) => {
      if (context.sender !== undefined) this.#detach(context.sender);
    });
    container.on("accepted", (context: EventContext) => this.#settled(context, { kind: "complete" }));
    container.on("released", (context: EventContext) => this.#settled(context, { kind: "abandon" }));
    container.on("modified", (context: EventContext) => {
      const state = outcome(context.delivery?.remote_state);
      const properties = record(state["message_annotations"]);
      this.#settled(
        context,
        state["undeliverable_here"] === true
          ? { kind: "defer", ...(properties !== undefined ? { properties } : {}) }
          : { kind: "abandon", ...(properties !== undefined ? { properties } : {}) },
      );
    });
    container.on("rejected", (context: EventContext) => {
      const error = record(outcome(context.delivery?.remote_state)["error"]) ?? {};
      const info = record(error["info"]) ?? {};
      const { DeadLetterReason, DeadLetterErrorDescription, ...properties } = info;
      this.#settled(context, {
        kind: "dead-letter",
        ...(typeof DeadLetterReason === "string" ? { reason: DeadLetterReason } : {}),
        ...(typeof DeadLetterErrorDescription === "string" ? { description: DeadLetterErrorDescription } : {}),
        properties,
      });
    });
    container.on("error", () => undefined); // a client going away mid-frame is not the peer's failure
    const server = container.listen({ port, host: "127.0.0.1" }) as Server;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    this.port = (server.address() as AddressInfo).port;
  }

  // --- entities -------------------------------------------------------------------------------

  #settings(options: PeerEntityOptions = {}): EntitySettings {
    return { lockDurationMs: options.lockDurationMs ?? this.#defaults.lockDurationMs, maxDeliveryCount: options.maxDeliveryCount ?? this.#defaults.maxDeliveryCount };
  }

  #entity(path: string, settings: EntitySettings): Entity {
    const deadLetters = new MessageStore(`${path}/$DeadLetterQueue`, settings, undefined);
    return { store: new MessageStore(path, settings, deadLetters), deadLetters };
  }

  createQueue(name: string, options: PeerEntityOptions & PeerSendTargetOptions = {}): void {
    const key = name.toLowerCase();
    if (this.#queues.has(key) || this.#topics.has(key)) throw new Error(`entity ${name} exists`);
    this.#queues.set(key, { ...this.#entity(name, this.#settings(options)), dedupe: new Dedupe(options.duplicateDetectionWindowMs) });
  }

  createTopic(name: string, options: PeerSendTargetOptions = {}): void {
    const key = name.toLowerCase();
    if (this.#queues.has(key) || this.#topics.has(key)) throw new Error(`entity ${name} exists`);
    this.#topics.set(key, { name, subscriptions: new Map(), dedupe: new Dedupe(options.duplicateDetectionWindowMs), scheduled: new Map(), nextScheduledSeq: 1 });
  }

  createSubscription(topicName: string, name: string, options: PeerEntityOptions & { filter?: PeerFilter } = {}): void {
    const topic = this.#topic(topicName);
    const key = name.toLowerCase();
    if (topic.subscriptions.has(key)) throw new Error(`subscription ${topicName}/${name} exists`);
    const subscription: Subscription = { name, ...this.#entity(`${topic.name}/Subscriptions/${name}`, this.#settings(options)), rules: new Map() };
    const filter = options.filter ?? { kind: "true" };
    subscription.rules.set("$default", { filter, matches: compileFilter(filter) });
    topic.subscriptions.set(key, subscription);
  }

  setRule(topicName: string, subscription: string, rule: string, filter: PeerFilter): void {
    this.#subscription(topicName, subscription).rules.set(rule.toLowerCase(), { filter, matches: compileFilter(filter) });
  }

  removeRule(topicName: string, subscription: string, rule: string): boolean {
    return this.#subscription(topicName, subscription).rules.delete(rule.toLowerCase());
  }

  subscriptions(topicName: string): string[] {
    return [...this.#topic(topicName).subscriptions.values()].map((s) => s.name);
  }

  counts(path: string): { active: number; locked: number; deferred: number; scheduled: number } {
    const resolved = this.#resolve(path);
    if (resolved.kind === "store") return resolved.store.counts();
    if (resolved.kind === "queue") return resolved.queue.store.counts();
    throw new Error(`no queue or subscription at ${path}`);
  }

  #topic(name: string): Topic {
    const topic = this.#topics.get(name.toLowerCase());
    if (topic === undefined) throw new Error(`no topic ${name}`);
    return topic;
  }

  #subscription(topicName: string, name: string): Subscription {
    const subscription = this.#topic(topicName).subscriptions.get(name.toLowerCase());
    if (subscription === undefined) throw new Error(`no subscription ${topicName}/${name}`);
    return subscription;
  }

  /** Maps a link address (entity path, optionally with `/$DeadLetterQueue`) to what it names. */
  #resolve(address: string): Resolved {
    let path = address.replace(/^amqps?:\/\/[^/]+\//i, "").replace(/^\/+/, "");
    const lower = path.toLowerCase();
    const deadLetter = lower.endsWith(DEAD_LETTER_SUFFIX);
    if (deadLetter) path = path.slice(0, -DEAD_LETTER_SUFFIX.length);
    const parts = path.split("/");
    if (parts.length === 1) {
      const key = path.toLowerCase();
      const queue = this.#queues.get(key);
      if (queue !== undefined) return deadLetter ? { kind: "store", store: queue.deadLetters } : { kind: "queue", queue };
      const topic = this.#topics.get(key);
      if (topic !== undefined && !deadLetter) return { kind: "topic", topic };
      return { kind: "missing", description: `The messaging entity '${path}' could not be found.` };
    }
    if (parts.length === 3 && parts[1]?.toLowerCase() === "subscriptions") {
      const topic = this.#topics.get((parts[0] ?? "").toLowerCase());
      const name = parts[2] ?? "";
      if (topic === undefined) return { kind: "missing", description: `The messaging entity '${parts[0]}' could not be found.` };
      let subscription = topic.subscriptions.get(name.toLowerCase());
      if (subscription === undefined && this.#autoCreate && name !== "") {
        this.createSubscription(topic.name, name);
        subscription = topic.subscriptions.get(name.toLowerCase());
      }
      if (subscription === undefined) return { kind: "missing", description: `The messaging entity '${path}' could not be found.` };
      return { kind: "store", store: deadLetter ? subscription.deadLetters : subscription.store, subscription };
    }
    return { kind: "missing", description: `The messaging entity '${path}' could not be found.` };
  }

  // --- links ----------------------------------------------------------------------------------

  /** The client attached a sender: to an entity, to `$cbs`, or to an entity's `$management`. */
  #receiverOpened(context: EventContext): void {
    const receiver = context.receiver;
    if (receiver === undefined) return;
    const address = String(receiver.target?.address ?? "");
    receiver.set_target({ address });
    const local = (receiver as unknown as { local: { attach: { max_message_size?: number } } }).local;
    local.attach.max_message_size = MAX_MESSAGE_SIZE;
    if (address === "$cbs" || address.toLowerCase().endsWith("/$management")) return;
    const resolved = this.#resolve(address);
    if (resolved.kind === "missing" || resolved.kind === "store") {
      receiver.close({ condition: "amqp:not-found", description: resolved.kind === "missing" ? resolved.description : `cannot send to ${address}` });
    }
  }

  /** The client attached a receiver: from an entity (or its dead-letter queue), or a reply link. */
  #senderOpened(context: EventContext): void {
    const sender = context.sender;
    if (sender === undefined) return;
    const source = String(sender.source?.address ?? "");
    sender.set_source({ address: source });
    if (sender.target?.address !== undefined) sender.set_target({ address: sender.target.address });
    if (source === "$cbs" || source.toLowerCase().endsWith("/$management")) return;
    const resolved = this.#resolve(source);
    const store = resolved.kind === "store" ? resolved.store : resolved.kind === "queue" ? resolved.queue.store : undefined;
    if (store === undefined) {
      sender.close({ condition: "amqp:not-found", description: resolved.kind === "missing" ? resolved.description : `cannot receive from topic ${source}` });
      return;
    }
    const consumer = {
      store,
      // Receive-and-delete: the client's receiver sends settled (snd-settle-mode settled).
      settleOnSend: sender.snd_settle_mode === 1,
      ready: () => sender.sendable(),
      deliver: (stored: StoredMessage, token: string | undefined) => {
        const delivery = sender.send(wire(stored), token === undefined ? undefined : lockTokenTag(token));
        this.#outgoing.set(delivery, { store, token });
      },
    };
    this.#consumers.set(sender, consumer);
    store.attach(consumer);
  }

  #detach(sender: Sender): void {
    const consumer = this.#consumers.get(sender);
    if (consumer === undefined) return;
    // Locks taken through this link stay until they expire, as on the broker.
    consumer.store.detach(consumer);
    this.#consumers.delete(sender);
  }

  #sendable(context: EventContext): void {
    const sender = context.sender;
    if (sender === undefined) return;
    const consumer = this.#consumers.get(sender);
    consumer?.store.pump();
    // A draining receiver (receiveMessages finishing early) is told there is nothing more for now.
    if ((sender as unknown as { _draining?: boolean })._draining === true) sender.set_drained(true);
  }

  #settled(context: EventContext, disposition: Disposition): void {
    const delivery = context.delivery;
    if (delivery === undefined) return;
    const carried = this.#outgoing.get(delivery);
    let state: unknown = outcomes.accepted().described();
    if (carried?.token !== undefined) {
      try {
        carried.store.settle(carried.token, disposition);
        state = settledState(disposition);
      } catch (error) {
        const condition = error instanceof LockLostError ? "com.microsoft:message-lock-lost" : "amqp:internal-error";
        state = outcomes.rejected({ error: { condition, description: (error as Error).message } }).described();
      }
    }
    // The client settles second: answer with a settled disposition, and mark the delivery settled
    // on our side too, or rhea keeps it in the session's window and sends stall after ~2 000.
    delivery.update(true, state);
    (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
  }

  // --- transfers -----------------------------------------------------------------------------

  #message(context: EventContext): void {
    const receiver = context.receiver;
    const delivery = context.delivery;
    if (receiver === undefined || delivery === undefined) return;
    const address = String(receiver.target?.address ?? "");
    if (address === "$cbs") {
      this.#answerCbs(context);
      delivery.accept();
      return;
    }
    if (address.toLowerCase().endsWith("/$management")) {
      this.#answerManagement(context, address.slice(0, -"/$management".length));
      delivery.accept();
      return;
    }
    try {
      for (const message of this.#messagesOf(context)) this.#send(address, message);
      delivery.accept();
    } catch (error) {
      delivery.reject({ condition: error instanceof RequestError ? error.condition : "amqp:internal-error", description: (error as Error).message });
    }
  }

  /** One message, or each of a batch (format 0x80013700: one data section per encoded message). */
  #messagesOf(context: EventContext): Message[] {
    const raw = context.message as unknown;
    const format = (context as unknown as { format?: number }).format;
    if (format === BATCH_FORMAT && Buffer.isBuffer(raw)) {
      const envelope = rhea.message.decode(raw);
      const body: unknown = envelope.body;
      const sections = sectionContent(body);
      return sections.map((section) => decodeMessage(section));
    }
    return [raw as Message];
  }

  /** Routes one sent message to a queue or to every subscription of a topic whose rules match. */
  #send(address: string, message: Message, forcedAvailableAt?: Date): Array<{ store: MessageStore; seq: number }> {
    const resolved = this.#resolve(address);
    if (message.message_id === undefined || message.message_id === null) message.message_id = rhea.generate_uuid();
    const availableAt = forcedAvailableAt ?? scheduledTime(message);
    if (resolved.kind === "queue") {
      if (resolved.queue.dedupe.repeat(message.message_id)) return [];
      return [{ store: resolved.queue.store, seq: resolved.queue.store.enqueue(message, 0, availableAt) }];
    }
    if (resolved.kind === "topic") {
      if (resolved.topic.dedupe.repeat(message.message_id)) return [];
      const copies: Array<{ store: MessageStore; seq: number }> = [];
      for (const subscription of resolved.topic.subscriptions.values()) {
        for (const rule of subscription.rules.values()) {
          if (!rule.matches(message)) continue;
          copies.push({ store: subscription.store, seq: subscription.store.enqueue({ ...message }, 0, availableAt) });
          break;
        }
      }
      return copies;
    }
    throw new RequestError(404, "amqp:not-found", resolved.kind === "missing" ? resolved.description : `cannot send to ${address}`);
  }

  // --- $cbs and $management -------------------------------------------------------------------

  #reply(context: EventContext, status: number, body: unknown, description = "OK", condition?: string): void {
    const request = context.message;
    if (request === undefined) return;
    const replyTo = request.reply_to === undefined ? undefined : String(request.reply_to);
    // The reply link is the client's receiver whose target is the request's reply-to; `$cbs`'s has
    // no target, so fall back to the receiver attached to the same node the request was sent to.
    const node = String(context.receiver?.target?.address ?? "");
    const sender =
      (replyTo !== undefined ? context.connection.find_sender((s: Sender) => s.target?.address === replyTo) : undefined) ??
      context.connection.find_sender((s: Sender) => s.source?.address === node);
    if (sender === undefined) return;
    sender.send({
      ...(request.message_id !== undefined ? { correlation_id: request.message_id } : {}),
      ...(replyTo !== undefined ? { to: replyTo } : {}),
      application_properties: { "status-code": status, "status-description": description, ...(condition !== undefined ? { "error-condition": condition } : {}) },
      body,
    });
  }

  #answerCbs(context: EventContext): void {
    // Any token is accepted: the peer does not authenticate.
    this.#reply(context, 200, undefined);
  }

  #answerManagement(context: EventContext, entityPath: string): void {
    const request = context.message;
    const operation = String(request?.application_properties?.["operation"] ?? "");
    const body = record(request?.body) ?? {};
    try {
      this.#reply(context, 200, this.#manage(operation, entityPath, body));
    } catch (error) {
      if (error instanceof RequestError) this.#reply(context, error.status, undefined, error.message, error.condition);
      else if (error instanceof LockLostError) this.#reply(context, 410, undefined, error.message, "com.microsoft:message-lock-lost");
      else if (error instanceof UnsupportedFilterError) this.#reply(context, 400, undefined, error.message, "com.microsoft:argument-error");
      else this.#reply(context, 500, undefined, (error as Error).message, "amqp:internal-error");
    }
  }

  #manage(operation: string, entityPath: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case "com.microsoft:peek-message": {
        const store = this.#storeAt(entityPath);
        const from = Number(longValue(body["from-sequence-number"]));
        const count = Number(body["message-count"] ?? 1);
        return { messages: store.peek(Math.max(1, from), count).map((stored) => ({ message: rhea.message.encode(wire(stored)) })) };
      }
      case "com.microsoft:renew-lock": {
        const store = this.#storeAt(entityPath);
        return { expirations: tokensOf(body["lock-tokens"]).map((token) => store.renewLock(token)) };
      }
      case "com.microsoft:update-disposition": {
        const store = this.#storeAt(entityPath);
        const status = String(body["disposition-status"] ?? "");
        const properties = record(body["properties-to-modify"]);
        const disposition: Disposition =
          status === "completed"
            ? { kind: "complete" }
            : status === "abandoned"
              ? { kind: "abandon", ...(properties !== undefined ? { properties } : {}) }
              : status === "defered"
                ? { kind: "defer", ...(properties !== undefined ? { properties } : {}) }
                : {
                    kind: "dead-letter",
                    ...(typeof body["deadletter-reason"] === "string" ? { reason: body["deadletter-reason"] } : {}),
                    ...(typeof body["deadletter-description"] === "string" ? { description: body["deadletter-description"] } : {}),
                    ...(properties !== undefined ? { properties } : {}),
                  };
        for (const token of tokensOf(body["lock-tokens"])) store.settle(token, disposition);
        return {};
      }
      case "com.microsoft:receive-by-sequence-number": {
        const store = this.#storeAt(entityPath);
        const seqs = listOf(body["sequence-numbers"]).map((s) => Number(longValue(s)));
        const found = store.receiveDeferred(seqs);
        if (found.length < seqs.length) throw new RequestError(404, "com.microsoft:message-not-found", "a requested deferred message was not found");
        return {
          messages: found.map(({ stored, token }) => ({ message: rhea.message.encode(wire(stored)), "lock-token": rhea.types.wrap_uuid(rhea.string_to_uuid(token)) })),
        };
      }
      case "com.microsoft:schedule-message": {
        const messages = listOf(body["messages"]).map((entry) => record(entry) ?? {});
        const seqs: number[] = [];
        const resolved = this.#resolve(entityPath);
        for (const entry of messages) {
          const encoded = entry["message"];
          if (!Buffer.isBuffer(encoded)) throw new RequestError(400, "com.microsoft:argument-error", "schedule-message: no encoded message");
          const copies = this.#send(entityPath, decodeMessage(encoded));
          if (resolved.kind === "topic") {
            const seq = resolved.topic.nextScheduledSeq++;
            resolved.topic.scheduled.set(seq, copies);
            seqs.push(seq);
          } else {
            seqs.push(copies[0]?.seq ?? 0);
          }
        }
        return { "sequence-numbers": rhea.types.wrap_array(seqs.map(longBytes), 0x81, undefined) };
      }
      case "com.microsoft:cancel-scheduled-message": {
        const resolved = this.#resolve(entityPath);
        for (const value of listOf(body["sequence-numbers"])) {
          const seq = Number(longValue(value));
          if (resolved.kind === "queue") resolved.queue.store.cancelScheduled(seq);
          if (resolved.kind === "topic") for (const copy of resolved.topic.scheduled.get(seq) ?? []) copy.store.cancelScheduled(copy.seq);
        }
        return {};
      }
      case "com.microsoft:add-rule": {
        const { topic, subscription } = this.#subscriptionPath(entityPath);
        const name = String(body["rule-name"] ?? "");
        const description = record(body["rule-description"]) ?? {};
        if (this.#subscription(topic, subscription).rules.has(name.toLowerCase())) {
          throw new RequestError(409, "com.microsoft:entity-already-exists", `The rule '${name}' already exists.`);
        }
        this.setRule(topic, subscription, name, filterOf(description));
        return {};
      }
      case "com.microsoft:remove-rule": {
        const { topic, subscription } = this.#subscriptionPath(entityPath);
        const name = String(body["rule-name"] ?? "");
        if (!this.removeRule(topic, subscription, name)) {
          throw new RequestError(404, "amqp:not-found", `The messaging entity '${entityPath}/Rules/${name}' could not be found.`);
        }
        return {};
      }
      default:
        throw new RequestError(501, "amqp:not-implemented", `the test peer does not implement ${operation || "(no operation)"}`);
    }
  }

  #storeAt(entityPath: string): MessageStore {
    const resolved = this.#resolve(entityPath);
    if (resolved.kind === "store") return resolved.store;
    if (resolved.kind === "queue") return resolved.queue.store;
    throw new RequestError(404, "amqp:not-found", resolved.kind === "missing" ? resolved.description : `${entityPath} holds no messages`);
  }

  #subscriptionPath(entityPath: string): { topic: string; subscription: string } {
    const resolved = this.#resolve(entityPath);
    if (resolved.kind !== "store" || resolved.subscription === undefined) {
      throw new RequestError(404, "amqp:not-found", resolved.kind === "missing" ? resolved.description : `${entityPath} is not a subscription`);
    }
    const [topic = ""] = entityPath.split("/");
    return { topic, subscription: resolved.subscription.name };
  }

  connections(): number {
    return this.#connections.size;
  }

  dropConnections(): void {
    for (const connection of this.#connections) {
      // With an error: rhea notices a socket's end or error, not a close it did not expect.
      const socket = (connection as unknown as { socket?: { destroy(error?: Error): void } }).socket;
      socket?.destroy(new Error("connection dropped by the test peer"));
    }
    this.#connections.clear();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    for (const queue of this.#queues.values()) {
      queue.store.close();
      queue.deadLetters.close();
    }
    for (const topic of this.#topics.values()) {
      for (const subscription of topic.subscriptions.values()) {
        subscription.store.close();
        subscription.deadLetters.close();
      }
    }
    await new Promise<void>((resolve) => (this.#server === undefined ? resolve() : this.#server.close(() => resolve())));
  }
}

/** The outcome constructors rhea has at runtime but leaves out of its typings. */
interface Described {
  described(): unknown;
}
const outcomes = rhea.message as unknown as {
  accepted(): Described;
  rejected(fields: { error?: AmqpError }): Described;
  modified(fields: { undeliverable_here: boolean }): Described;
};

function decodeMessage(encoded: Buffer): Message {
  return rhea.message.decode(encoded) as unknown as Message;
}

/** The message as delivered: the stored one plus delivery count and the broker's annotations. */
function wire(stored: StoredMessage): Message {
  return {
    ...stored.message,
    delivery_count: stored.deliveryCount,
    message_annotations: {
      ...stored.message.message_annotations,
      "x-opt-sequence-number": rhea.types.wrap_long(stored.seq),
      "x-opt-enqueued-time": stored.enqueuedAt,
      ...(stored.lock !== undefined ? { "x-opt-locked-until": new Date(stored.lock.until) } : {}),
      ...(stored.state === "deferred" ? { "x-opt-message-state": rhea.types.wrap_int(1) } : {}),
      ...(stored.state === "scheduled" ? { "x-opt-message-state": rhea.types.wrap_int(2) } : {}),
    },
  };
}

/**
 * The delivery tag for a lock token. The client reads tags as .NET GUID bytes (the first three
 * groups little-endian), so the peer swaps those bytes for the token to read back the same.
 */
function lockTokenTag(token: string): Buffer {
  const b = rhea.string_to_uuid(token);
  return Buffer.from([b[3] ?? 0, b[2] ?? 0, b[1] ?? 0, b[0] ?? 0, b[5] ?? 0, b[4] ?? 0, b[7] ?? 0, b[6] ?? 0, ...b.subarray(8)]);
}

function tokensOf(value: unknown): string[] {
  return listOf(value).map((t) => (Buffer.isBuffer(t) ? rhea.uuid_to_string(t) : String(t)));
}

function settledState(disposition: Disposition): unknown {
  switch (disposition.kind) {
    case "complete":
      return outcomes.accepted().described();
    case "abandon":
      return outcomes.modified({ undeliverable_here: false }).described();
    case "defer":
      return outcomes.modified({ undeliverable_here: true }).described();
    case "dead-letter":
      // No error in the answer: the client fails the settlement when the outcome carries one.
      return outcomes.rejected({}).described();
  }
}

function scheduledTime(message: Message): Date | undefined {
  const value: unknown = message.message_annotations?.["x-opt-scheduled-enqueue-time"];
  if (value instanceof Date) return value;
  if (typeof value === "number") return new Date(value);
  return undefined;
}

function filterOf(description: Record<string, unknown>): PeerFilter {
  const sql = record(description["sql-filter"]);
  if (sql !== undefined) return { kind: "sql", expression: String(sql["expression"] ?? "1=1") };
  const c = record(description["correlation-filter"]);
  if (c === undefined) return { kind: "true" };
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const fields = {
    correlationId: text(c["correlation-id"]),
    messageId: text(c["message-id"]),
    subject: text(c["label"]),
    contentType: text(c["content-type"]),
    to: text(c["to"]),
    replyTo: text(c["reply-to"]),
    sessionId: text(c["session-id"]),
  };
  const properties: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(record(c["properties"]) ?? {})) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") properties[k] = v;
  }
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return { kind: "correlation", ...defined, properties };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) ? (value as Record<string, unknown>) : undefined;
}

function outcome(value: unknown): Record<string, unknown> {
  return record(value) ?? {};
}

function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** A long as 8 big-endian bytes (how the client itself encodes sequence numbers in arrays). */
function longBytes(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(value));
  return bytes;
}

/** A long as rhea decodes it: a number, or 8 big-endian bytes when it does not fit one. */
function longValue(value: unknown): number | bigint {
  if (Buffer.isBuffer(value) && value.length === 8) return value.readBigInt64BE(0);
  return Number(value ?? 0);
}

function sectionContent(body: unknown): Buffer[] {
  const section = record(body);
  const content = section?.["content"];
  if (Array.isArray(content)) return content.filter((c): c is Buffer => Buffer.isBuffer(c));
  if (Buffer.isBuffer(content)) return [content];
  return [];
}
