// The Service Bus part of pnpm bench:bus — our Service Bus adapter vs raw @azure/service-bus, in the
// same run, on the AMQP test peer (no Service Bus emulator runs here; the figures measure the
// client-side cost of the adapter against the SDK on the same peer, not Azure's throughput).
// Both sides move the same bytes (encoded TrainingFailed events) the same way: one message per send
// with a window of sends in flight, and a peek-lock subscriber completing each message with the
// same concurrency. Ours adds validation on publish and consume, the inbox, tracing and settlement
// through the runner. Throughput = messages / (first send → last message completed).
// Run on its own: `node bench/bus-servicebus.mjs` (after tsc -b); bench/bus.mjs calls it last.
import { performance } from "node:perf_hooks";
import { ServiceBusClient } from "@azure/service-bus";
import { connectServiceBusBus } from "@retrain/bus";
import { createEvent, encodeEvent, EventTypes, exampleData, ulid } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { startServiceBusPeer, uniqueName } from "@retrain/testing";

const T = EventTypes.TrainingFailed;

function events(n) {
  const base = exampleData(T);
  return Array.from({ length: n }, (_, i) => createEvent(T, { ...base, runId: ulid(), reason: `bench ${i}` }, { source: "/retrain/bench" }));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function windowed(items, window, sendOne) {
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < items.length) await sendOne(items[next++]);
    }),
  );
}

async function baseline(peer, payloads, { window, concurrency }) {
  const topic = uniqueName("raw");
  peer.createTopic(topic, { duplicateDetectionWindowMs: 120_000 });
  peer.createSubscription(topic, "raw");
  const client = new ServiceBusClient(peer.connectionString);
  const sender = client.createSender(topic);
  const receiver = client.createReceiver(topic, "raw", { skipParsingBodyAsJson: true, maxAutoLockRenewalDurationInMs: 0 });
  let handled = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const subscription = receiver.subscribe(
    {
      processMessage: async (message) => {
        await receiver.completeMessage(message);
        if (++handled === payloads.length) done();
      },
      processError: async ({ error }) => console.error(`raw receiver: ${error.message}`),
    },
    { autoCompleteMessages: false, maxConcurrentCalls: concurrency },
  );
  const start = performance.now();
  await windowed(payloads, window, (p) => sender.sendMessages({ body: p.body, messageId: p.id, subject: T, applicationProperties: { "retrain-event-type": T } }));
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await subscription.close();
  await client.close();
  return payloads.length / seconds;
}

async function ours(peer, evts, { window, concurrency }) {
  const topic = uniqueName("bench");
  // Provisioned ahead, as the topology script does on a namespace; the adapter sets its rules.
  peer.createTopic(topic, { duplicateDetectionWindowMs: 120_000 });
  peer.createSubscription(topic, "bench");
  const bus = await connectServiceBusBus({ connectionString: peer.connectionString, topic, createEntities: false, logger: silentLogger() });
  let handled = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await bus.subscribe({
    group: "bench",
    types: [T],
    concurrency,
    handler: async () => {
      if (++handled === evts.length) done();
    },
  });
  const start = performance.now();
  await windowed(evts, window, (e) => bus.publish(e));
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await bus.close({ graceMs: 1000 });
  return evts.length / seconds;
}

/**
 * Measures both sides on a fresh peer and prints the `bus-servicebus` JSON line last. Tracing is
 * whatever the caller set up (bench/bus.mjs: exported over OTLP to a local sink).
 */
export async function runServiceBusBench(env = process.env) {
  const n = Number(env.BENCH_SB_MESSAGES ?? 5_000);
  const window = Number(env.BENCH_SB_WINDOW ?? 256);
  const concurrency = Number(env.BENCH_SB_CONCURRENCY ?? 64);
  const roundCount = Number(env.BENCH_ROUNDS ?? 3);
  const peer = await startServiceBusPeer();
  try {
    const evts = events(n);
    const payloads = evts.map((e) => ({ id: e.id, body: encodeEvent(e) }));
    console.log(`bench bus (Service Bus): ${n} events of ~${payloads[0].body.length} B, send window ${window}, subscriber concurrency ${concurrency}, AMQP test peer on port ${peer.port}`);
    // Warm both paths (JIT, links) so neither pays start-up in the measured run.
    const warm = events(500);
    await baseline(peer, warm.map((e) => ({ id: e.id, body: encodeEvent(e) })), { window, concurrency });
    await ours(peer, events(500), { window, concurrency });
    // Rounds alternate the two sides, as in bench/bus.mjs; the figures are medians over rounds.
    const rounds = [];
    for (let round = 0; round < roundCount; round++) {
      const baselineRate = await baseline(peer, payloads, { window, concurrency });
      const ourRate = await ours(peer, evts, { window, concurrency });
      rounds.push({ baselineRate, ourRate, ratio: ourRate / baselineRate });
      console.log(`round ${round + 1}: raw @azure/service-bus ${Math.round(baselineRate)} msgs/s, retrain Service Bus adapter ${Math.round(ourRate)} msgs/s, ratio ${(ourRate / baselineRate).toFixed(3)}`);
    }
    const baselineRate = median(rounds.map((r) => r.baselineRate));
    const ourRate = median(rounds.map((r) => r.ourRate));
    const ratio = median(rounds.map((r) => r.ratio));
    console.log(`raw @azure/service-bus (send + peek-lock receive + complete): ${Math.round(baselineRate)} msgs/s (median of ${roundCount})`);
    console.log(`retrain Service Bus adapter (validate + inbox + tracing + runner): ${Math.round(ourRate)} msgs/s (median of ${roundCount})`);
    console.log(JSON.stringify({ bench: "bus-servicebus", ours_msgs_per_s: Math.round(ourRate), baseline_msgs_per_s: Math.round(baselineRate), ratio: Number(ratio.toFixed(3)) }));
  } finally {
    await peer.stop();
  }
}

// Standalone, no tracing SDK is registered; bench/bus.mjs runs it with tracing exported to a sink.
if (import.meta.url === `file://${process.argv[1]}`) await runServiceBusBench();
