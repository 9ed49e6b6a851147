// The one contract every EventBus adapter passes: in-memory, NATS JetStream, Service Bus.
import { createEvent, EventTypes, exampleData, ulid, type CloudEvent, type EventType } from "@retrain/contracts";
import { currentTraceIds, setupTelemetry, withSpan, type Telemetry } from "@retrain/telemetry";
import { collect, deferred, waitFor } from "@retrain/testing";
import { NonRetryableError } from "./errors.js";
import type { Inbox } from "./inbox.js";
import type { EventBus, SubscribeOptions, Subscription } from "./port.js";

/** A bus under test, plus a way to send bytes no producer of ours would send. */
export type TestBus = EventBus & { publishRaw(type: string, body: Uint8Array): Promise<unknown> };

/** What the contract needs from an adapter's test setup. */
export interface BusHarness {
  /** A new client of the same deployment (same broker, same prefix): a second "process". */
  connect(): Promise<TestBus>;
  /** Drops a client without settling anything in flight, as `kill -9` would. */
  crash(bus: TestBus): Promise<void>;
  /** Ack wait to subscribe with, short enough that a crashed delivery comes back quickly. */
  readonly ackWaitMs: number;
  teardown(): Promise<void>;
}

const T = EventTypes.TrainingFailed;
type Failed = CloudEvent<typeof T>;

/** A distinct valid event per call (its own run id, hence its own deterministic event id). */
export function sampleEvent(note = "x"): Failed {
  const data = { ...exampleData(T), runId: ulid(), reason: note };
  return createEvent(T, data, { source: "/retrain/contract-test" });
}

/** Runs the EventBus contract against `setup()`'s adapter. */
export function describeBusContract(name: string, setup: () => Promise<BusHarness>): void {
  describe(`EventBus contract: ${name}`, () => {
    let harness: BusHarness;
    let bus: TestBus;
    let telemetry: Telemetry;
    const open: Array<Subscription | TestBus> = [];
    let groupSeq = 0;
    const group = () => `g${++groupSeq}-${Date.now().toString(36)}`;

    beforeAll(async () => {
      telemetry = setupTelemetry({ serviceName: "bus-contract", exporter: "memory", env: {} });
      harness = await setup();
    });
    beforeEach(async () => {
      bus = await harness.connect();
      open.push(bus);
    });
    afterEach(async () => {
      for (const item of open.splice(0).reverse()) await item.close({ graceMs: 0 }).catch(() => undefined);
    });
    afterAll(async () => {
      await harness.teardown();
      await telemetry.shutdown();
    });

    const sub = async <E extends EventType>(b: EventBus, options: SubscribeOptions<E>) => {
      const s = await b.subscribe({ ackWaitMs: harness.ackWaitMs, backoffMs: [10, 20], ...options });
      open.push(s);
      return s;
    };

    it("delivers a published event to a subscriber, validated and typed", async () => {
      const got = deferred<Failed>();
      await sub(bus, { group: group(), types: [T], handler: async (e) => got.resolve(e as Failed) });
      const event = sampleEvent("hello");
      const receipt = await bus.publish(event);
      expect(receipt.duplicate).toBe(false);
      const received = await got.promise;
      expect(received.id).toBe(event.id);
      expect(received.data.reason).toBe("hello");
      expect(received.runid).toBe(event.data.runId);
    });

    it("shares a group's work between its subscribers: every event handled once, by one of them", async () => {
      const g = group();
      const other = await harness.connect();
      open.push(other);
      const seen = collect<{ who: string; id: string }>(40);
      const slow = async () => new Promise((r) => setImmediate(r));
      await sub(bus, { group: g, types: [T], concurrency: 2, handler: async (e) => { await slow(); seen.push({ who: "a", id: e.id }); } });
      await sub(other, { group: g, types: [T], concurrency: 2, handler: async (e) => { await slow(); seen.push({ who: "b", id: e.id }); } });
      const events = Array.from({ length: 40 }, (_, i) => sampleEvent(`w${i}`));
      await Promise.all(events.map((e) => bus.publish(e)));
      const handled = await seen.done;
      const ids = handled.map((h) => h.id);
      expect(new Set(ids).size).toBe(40);
      expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
      expect(new Set(handled.map((h) => h.who))).toEqual(new Set(["a", "b"]));
    });

    it("gives every group its own copy", async () => {
      const a = deferred<string>();
      const b = deferred<string>();
      await sub(bus, { group: group(), types: [T], handler: async (e) => a.resolve(e.id) });
      await sub(bus, { group: group(), types: [T], handler: async (e) => b.resolve(e.id) });
      const event = sampleEvent();
      await bus.publish(event);
      expect(await a.promise).toBe(event.id);
      expect(await b.promise).toBe(event.id);
    });

    it("retries a throwing handler with backoff until it succeeds", async () => {
      const attempts: number[] = [];
      const done = deferred();
      await sub(bus, {
        group: group(),
        types: [T],
        maxAttempts: 5,
        handler: async (_e, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
          done.resolve();
        },
      });
      await bus.publish(sampleEvent());
      await done.promise;
      expect(attempts).toEqual([1, 2, 3]);
    });

    it("dead-letters after maxAttempts with reason and count, and replay delivers it to that group again", async () => {
      const g = group();
      let fail = true;
      const attempts: number[] = [];
      const recovered = deferred<string>();
      await sub(bus, {
        group: g,
        types: [T],
        maxAttempts: 3,
        handler: async (e, ctx) => {
          attempts.push(ctx.attempt);
          if (fail) throw new Error("downstream is down");
          recovered.resolve(e.id);
        },
      });
      const event = sampleEvent();
      await bus.publish(event);
      const [dead] = await waitFor(async () => {
        const list = await bus.listDeadLetters({ group: g });
        return list.length > 0 && list;
      }, { description: "a dead letter" });
      expect(attempts).toEqual([1, 2, 3]);
      expect(dead).toMatchObject({ group: g, reason: "MaxAttemptsExceeded", attempts: 3, eventId: event.id, eventType: T });
      expect(dead?.description).toContain("downstream is down");
      expect(JSON.parse(dead?.payload ?? "{}").id).toBe(event.id);
      fail = false;
      await bus.replayDeadLetter(dead?.id ?? "");
      expect(await recovered.promise).toBe(event.id);
      expect(await bus.listDeadLetters({ group: g })).toEqual([]);
    });

    it("dead-letters a NonRetryableError at once", async () => {
      const g = group();
      const calls: number[] = [];
      await sub(bus, { group: g, types: [T], maxAttempts: 5, handler: async (_e, ctx) => { calls.push(ctx.attempt); throw new NonRetryableError("bad dataset", "CsvRaggedRow"); } });
      await bus.publish(sampleEvent());
      const [dead] = await waitFor(async () => { const l = await bus.listDeadLetters({ group: g }); return l.length > 0 && l; });
      expect(calls).toEqual([1]);
      expect(dead).toMatchObject({ reason: "NonRetryable", attempts: 1 });
      expect(dead?.description).toContain("CsvRaggedRow");
      expect(await bus.dropDeadLetter(dead?.id ?? "")).toBe(true);
      expect(await bus.listDeadLetters({ group: g })).toEqual([]);
    });

    it("dead-letters a malformed payload with reason SchemaInvalid and keeps the rest flowing", async () => {
      const g = group();
      const good = collect<string>(2);
      await sub(bus, { group: g, types: [T], handler: async (e) => good.push(e.id) });
      const first = sampleEvent("before");
      const last = sampleEvent("after");
      await bus.publish(first);
      await bus.publishRaw(T, Buffer.from("{this is not json"));
      const wrongShape = { ...sampleEvent(), data: { runId: "r" } };
      await bus.publishRaw(T, Buffer.from(JSON.stringify(wrongShape)));
      await bus.publish(last);
      expect(await good.done).toEqual([first.id, last.id]);
      const dead = await waitFor(async () => { const l = await bus.listDeadLetters({ group: g }); return l.length >= 2 && l; });
      expect(dead.map((d) => d.reason)).toEqual(["SchemaInvalid", "SchemaInvalid"]);
      expect(dead[0]?.description).toContain("MalformedJson");
      expect(dead[1]?.description).toContain("data.");
      expect(dead[1]?.eventId).toBe(wrongShape.id);
    });

    it("delivers an event published twice with the same id once", async () => {
      const g = group();
      const seen: string[] = [];
      const marker = deferred();
      await sub(bus, { group: g, types: [T], handler: async (e) => { seen.push(e.data.reason); if (e.data.reason === "marker") marker.resolve(); } });
      const event = sampleEvent("twice");
      expect((await bus.publish(event)).duplicate).toBe(false);
      expect((await bus.publish(event)).duplicate).toBe(true);
      await bus.publish(sampleEvent("marker"));
      await marker.promise;
      expect(seen).toEqual(["twice", "marker"]);
    });

    it("does not apply an effect twice when the consumer dies between recording it and the ack", async () => {
      const g = group();
      // The service's own state document: the effect and the inbox written in one step.
      const doc = { effects: 0, inbox: [] as string[] };
      const deduped = deferred<string>();
      const inbox: Inbox = {
        seen: async (_g, id) => {
          const seen = doc.inbox.includes(id);
          if (seen) deduped.resolve(id);
          return seen;
        },
      };
      const effected = deferred();
      const victim = await harness.connect();
      await victim.subscribe({
        group: g, types: [T], inbox, ackWaitMs: harness.ackWaitMs,
        handler: async (e) => {
          doc.effects += 1;
          doc.inbox.push(e.id);
          effected.resolve();
          await new Promise(() => undefined); // dies before returning: never acked
        },
      });
      const event = sampleEvent();
      await bus.publish(event);
      await effected.promise;
      await harness.crash(victim);
      const redelivered = deferred<number>();
      await sub(bus, {
        group: g, types: [T], inbox,
        handler: async (e) => {
          if (e.id === event.id) doc.effects += 1;
          else redelivered.resolve(0);
        },
      });
      // The redelivery reaches the runner, whose inbox check finds the id: acked, handler not called.
      expect(await deduped.promise).toBe(event.id);
      await bus.publish(sampleEvent("after"));
      await redelivered.promise; // the next event does reach the handler, so the group is alive
      expect(doc.effects).toBe(1);
      expect(doc.inbox).toEqual([event.id]);
      expect(doc.effects).toBe(1);
    });

    it("continues the producer's trace in the handler", async () => {
      const seen = deferred<string | undefined>();
      await sub(bus, { group: group(), types: [T], handler: async () => seen.resolve(currentTraceIds().traceId) });
      let producerTrace: string | undefined;
      await withSpan("upstream", {}, async (span) => {
        producerTrace = span.traceId;
        await bus.publish(sampleEvent());
      });
      expect(producerTrace).toMatch(/^[0-9a-f]{32}$/);
      expect(await seen.promise).toBe(producerTrace);
      const spans = await waitFor(() => {
        const s = telemetry.finishedSpans().filter((x) => x.traceId === producerTrace);
        return s.some((x) => x.name.startsWith("process")) && s;
      });
      const publish = spans.find((s) => s.name.startsWith("publish"));
      const process = spans.find((s) => s.name.startsWith("process"));
      expect(process?.parentSpanId).toBe(publish?.spanId);
      expect(process?.attributes["messaging.message.id"]).toBeDefined();
    });

    it("does not ack a handler interrupted by close(): the next consumer gets it", async () => {
      const g = group();
      const started = deferred();
      const first = await harness.connect();
      const firstSub = await first.subscribe({
        group: g, types: [T], ackWaitMs: harness.ackWaitMs,
        handler: async (_e, ctx) => {
          started.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        },
      });
      const event = sampleEvent("interrupted");
      await bus.publish(event);
      await started.promise;
      await firstSub.close({ graceMs: 50 });
      await first.close({ graceMs: 0 });
      // Whether a delivery given back at shutdown counts as an attempt is the broker's call (JetStream
      // may not count a nak that follows the end of the pull); what matters is that it comes back.
      const next = deferred<string>();
      await sub(bus, { group: g, types: [T], handler: async (e) => next.resolve(e.id) });
      expect(await next.promise).toBe(event.id);
    });
  });
}

