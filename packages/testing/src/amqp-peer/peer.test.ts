// Conformance of the Service Bus test peer, driven by the real @azure/service-bus client: what the
// peer answers here is what the adapter's contract tests rely on.
import { ServiceBusClient, type ServiceBusReceivedMessage } from "@azure/service-bus";
import { deferred, waitFor } from "../async.js";
import { uniqueName } from "../names.js";
import { startServiceBusPeer, type ServiceBusPeer } from "./peer.js";

describe("Service Bus test peer (conformance with @azure/service-bus 7.9.5)", () => {
  let peer: ServiceBusPeer;
  let client: ServiceBusClient;

  beforeAll(async () => {
    peer = await startServiceBusPeer();
    client = new ServiceBusClient(peer.connectionString);
  });
  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  const queue = (options: Parameters<ServiceBusPeer["createQueue"]>[1] = {}) => {
    const name = uniqueName("q");
    peer.createQueue(name, options);
    return name;
  };
  const receiveOne = async (entity: string, subQueueType?: "deadLetter"): Promise<ServiceBusReceivedMessage> => {
    const receiver = client.createReceiver(entity, { skipParsingBodyAsJson: true, ...(subQueueType !== undefined ? { subQueueType } : {}) });
    try {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      if (message === undefined) throw new Error(`nothing received from ${entity}`);
      return message;
    } finally {
      await receiver.close();
    }
  };

  it("sends, receives in peek-lock with a lock token and annotations, and completes", async () => {
    const name = queue();
    const sender = client.createSender(name);
    await sender.sendMessages({ body: Buffer.from("hello"), messageId: "m-1", applicationProperties: { kind: "greeting" }, subject: "s" });
    await sender.close();
    const receiver = client.createReceiver(name, { skipParsingBodyAsJson: true });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(message?.messageId).toBe("m-1");
    expect(Buffer.from(message?.body as Buffer).toString()).toBe("hello");
    expect(message?.applicationProperties).toEqual({ kind: "greeting" });
    expect(message?.subject).toBe("s");
    expect(message?.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(message?.sequenceNumber?.toNumber()).toBe(1);
    expect(message?.deliveryCount).toBe(0);
    expect(message?.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now());
    expect(peer.counts(name)).toMatchObject({ active: 0, locked: 1 });
    if (message === undefined) return;
    await receiver.completeMessage(message);
    expect(peer.counts(name)).toMatchObject({ active: 0, locked: 0 });
    await receiver.close();
  });

  it("redelivers an abandoned message with deliveryCount + 1 and the properties it was abandoned with", async () => {
    const name = queue();
    await client.createSender(name).sendMessages({ body: "x", messageId: "a" });
    const receiver = client.createReceiver(name);
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    if (first === undefined) throw new Error("nothing received");
    await receiver.abandonMessage(first, { note: "tried once" });
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(second?.messageId).toBe("a");
    expect(second?.deliveryCount).toBe(1);
    expect(second?.applicationProperties?.["note"]).toBe("tried once");
    if (second !== undefined) await receiver.completeMessage(second);
    await receiver.close();
  });

  it("dead-letters with reason and description, read back from $DeadLetterQueue", async () => {
    const name = queue();
    await client.createSender(name).sendMessages({ body: "poison", messageId: "p" });
    const receiver = client.createReceiver(name);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    if (message === undefined) throw new Error("nothing received");
    await receiver.deadLetterMessage(message, { deadLetterReason: "NonRetryable", deadLetterErrorDescription: "bad input", extra: "kept" });
    await receiver.close();
    const dead = await receiveOne(name, "deadLetter");
    expect(dead.messageId).toBe("p");
    expect(dead.deadLetterReason).toBe("NonRetryable");
    expect(dead.deadLetterErrorDescription).toBe("bad input");
    expect(dead.applicationProperties?.["extra"]).toBe("kept");
    expect(peer.counts(name)).toMatchObject({ active: 0, locked: 0 });
    // Received above in peek-lock and not completed: still in the dead-letter queue, locked.
    expect(peer.counts(`${name}/$DeadLetterQueue`)).toMatchObject({ active: 0, locked: 1 });
  });

  it("redelivers when a lock expires, and renew-lock keeps it", async () => {
    const name = queue({ lockDurationMs: 300 });
    await client.createSender(name).sendMessages({ body: "slow", messageId: "l" });
    const receiver = client.createReceiver(name, { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    if (first === undefined) throw new Error("nothing received");
    const renewed = await receiver.renewMessageLock(first);
    expect(renewed.getTime()).toBeGreaterThanOrEqual(first.lockedUntilUtc?.getTime() ?? 0);
    // Not settled: the lock runs out and the same message comes back, counted as a delivery.
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(again?.messageId).toBe("l");
    expect(again?.deliveryCount).toBe(1);
    await expect(receiver.completeMessage(first)).rejects.toMatchObject({ code: "MessageLockLost" });
    if (again !== undefined) await receiver.completeMessage(again);
    await receiver.close();
  });

  it("dead-letters with MaxDeliveryCountExceeded after the max delivery count", async () => {
    const name = queue({ maxDeliveryCount: 3 });
    await client.createSender(name).sendMessages({ body: "flaky", messageId: "f" });
    const receiver = client.createReceiver(name);
    for (let i = 0; i < 3; i++) {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      expect(message?.deliveryCount).toBe(i);
      if (message !== undefined) await receiver.abandonMessage(message);
    }
    await receiver.close();
    const dead = await receiveOne(name, "deadLetter");
    expect(dead.messageId).toBe("f");
    expect(dead.deadLetterReason).toBe("MaxDeliveryCountExceeded");
    expect(dead.deliveryCount).toBe(3);
  });

  it("takes a batch as one transfer and delivers each message of it", async () => {
    const name = queue();
    const sender = client.createSender(name);
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 50; i++) expect(batch.tryAddMessage({ body: `b${i}`, messageId: `b${i}` })).toBe(true);
    await sender.sendMessages(batch);
    await sender.close();
    const receiver = client.createReceiver(name, { receiveMode: "receiveAndDelete" });
    const ids: string[] = [];
    await waitFor(async () => {
      for (const m of await receiver.receiveMessages(50, { maxWaitTimeInMs: 500 })) ids.push(String(m.messageId));
      return ids.length >= 50;
    });
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(peer.counts(name)).toMatchObject({ active: 0, locked: 0 });
    await receiver.close();
  });

  it("holds scheduled messages until their time, peeks them as scheduled, and cancels on request", async () => {
    const name = queue();
    const sender = client.createSender(name);
    const at = new Date(Date.now() + 400);
    const [kept, cancelled] = await sender.scheduleMessages([{ body: "later", messageId: "s1" }, { body: "never", messageId: "s2" }], at);
    if (kept === undefined || cancelled === undefined) throw new Error("no sequence numbers");
    await sender.cancelScheduledMessages(cancelled);
    const receiver = client.createReceiver(name);
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((m) => [m.messageId, m.state])).toEqual([["s1", "scheduled"]]);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(message?.messageId).toBe("s1");
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    if (message !== undefined) await receiver.completeMessage(message);
    await sender.close();
    await receiver.close();
  });

  it("defers a message and settles it later by sequence number through $management", async () => {
    const name = queue();
    await client.createSender(name).sendMessages({ body: "later", messageId: "d" });
    const receiver = client.createReceiver(name);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    if (message?.sequenceNumber === undefined) throw new Error("nothing received");
    await receiver.deferMessage(message);
    expect(peer.counts(name)).toMatchObject({ deferred: 1 });
    const [again] = await receiver.receiveDeferredMessages(message.sequenceNumber);
    expect(again?.messageId).toBe("d");
    if (again !== undefined) await receiver.completeMessage(again);
    expect(peer.counts(name)).toMatchObject({ deferred: 0, active: 0, locked: 0 });
    await receiver.close();
  });

  it("drops a repeated message id within the duplicate-detection window", async () => {
    const name = queue({ duplicateDetectionWindowMs: 60_000 });
    const sender = client.createSender(name);
    await sender.sendMessages({ body: "1", messageId: "same" });
    await sender.sendMessages({ body: "2", messageId: "same" });
    await sender.sendMessages({ body: "3", messageId: "other" });
    await sender.close();
    const receiver = client.createReceiver(name);
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((m) => m.messageId)).toEqual(["same", "other"]);
    await receiver.close();
  });

  it("fans a topic out to subscriptions whose rules match (correlation and SQL filters, rules changed over AMQP)", async () => {
    const topic = uniqueName("t");
    peer.createTopic(topic);
    peer.createSubscription(topic, "by-type", { filter: { kind: "correlation", properties: { type: "a" } } });
    peer.createSubscription(topic, "by-sql", { filter: { kind: "sql", expression: "type IN ('b', 'c') OR sys.Label = 'z'" } });
    peer.createSubscription(topic, "all");
    const rules = client.createRuleManager(topic, "by-type");
    await rules.createRule("also-c", { applicationProperties: { type: "c" } });
    await expect(rules.createRule("also-c", { applicationProperties: { type: "c" } })).rejects.toMatchObject({ code: "MessagingEntityAlreadyExists" });
    await rules.deleteRule("$Default");
    await expect(rules.deleteRule("$Default")).rejects.toMatchObject({ code: "MessagingEntityNotFound" });
    await rules.createRule("z", { sqlExpression: "sys.Label = 'z'" });
    const sender = client.createSender(topic);
    for (const [id, type, subject] of [["1", "a", "s"], ["2", "b", "s"], ["3", "c", "s"], ["4", "d", "z"]] as const) {
      await sender.sendMessages({ body: id, messageId: id, subject, applicationProperties: { type } });
    }
    await sender.close();
    const ids = async (subscription: string) => {
      const receiver = client.createReceiver(topic, subscription);
      const got = (await receiver.peekMessages(10)).map((m) => m.messageId);
      await receiver.close();
      return got;
    };
    expect(await ids("by-type")).toEqual(["3", "4"]);
    expect(await ids("by-sql")).toEqual(["2", "3", "4"]);
    expect(await ids("all")).toEqual(["1", "2", "3", "4"]);
    expect(peer.subscriptions(topic).sort()).toEqual(["all", "by-sql", "by-type"]);
  });

  it("serves subscribe() (streaming receive) with settlement left to the caller", async () => {
    const topic = uniqueName("t");
    peer.createTopic(topic);
    peer.createSubscription(topic, "workers");
    const sender = client.createSender(topic);
    await sender.sendMessages(Array.from({ length: 20 }, (_, i) => ({ body: `m${i}`, messageId: `m${i}` })));
    await sender.close();
    const receiver = client.createReceiver(topic, "workers");
    const seen = new Set<string>();
    const all = deferred();
    const subscription = receiver.subscribe(
      {
        processMessage: async (message) => {
          seen.add(String(message.messageId));
          await receiver.completeMessage(message);
          if (seen.size === 20) all.resolve();
        },
        processError: async (args) => all.reject(args.error),
      },
      { autoCompleteMessages: false, maxConcurrentCalls: 4 },
    );
    await all.promise;
    await subscription.close();
    await receiver.close();
    expect(seen.size).toBe(20);
    expect(peer.counts(`${topic}/Subscriptions/workers`)).toMatchObject({ active: 0, locked: 0 });
  });

  it("refuses a missing entity with MessagingEntityNotFound, and can create subscriptions on first use", async () => {
    const sender = client.createSender(uniqueName("missing"));
    await expect(sender.sendMessages({ body: "x" })).rejects.toMatchObject({ code: "MessagingEntityNotFound" });
    await sender.close();
    const auto = await startServiceBusPeer({ autoCreateSubscriptions: true });
    const other = new ServiceBusClient(auto.connectionString);
    try {
      auto.createTopic("t");
      const receiver = other.createReceiver("t", "created-on-attach");
      expect(await receiver.peekMessages(1)).toEqual([]);
      expect(auto.subscriptions("t")).toEqual(["created-on-attach"]);
      await receiver.close();
    } finally {
      await other.close();
      await auto.stop();
    }
  });
});
