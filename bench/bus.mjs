// pnpm bench:bus — our bus runner on NATS JetStream vs raw @nats-io/jetstream, in the same run, on a
// nats-server of its own. Both sides move the same bytes (encoded TrainingFailed events, ~480 B):
// a publisher with a window of in-flight publishes and a durable pull consumer with explicit acks,
// running at the same time. Ours adds what production has: schema validation on publish and consume,
// the inbox (dedupe by event id), and tracing with a registered SDK (spans recorded, not exported).
// Throughput = messages / (first publish → last message handled).
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connectNatsBus } from "@retrain/bus";
import { createEvent, encodeEvent, EventTypes, exampleData, ulid } from "@retrain/contracts";
import { setupTelemetry, silentLogger } from "@retrain/telemetry";
import { startNatsServer, uniqueName } from "@retrain/testing";
import { runServiceBusBench } from "./bus-servicebus.mjs";

const N = Number(process.env.BENCH_MESSAGES ?? 50_000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 512);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const T = EventTypes.TrainingFailed;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function events(n) {
  const base = exampleData(T);
  return Array.from({ length: n }, (_, i) => createEvent(T, { ...base, runId: ulid(), reason: `bench ${i}` }, { source: "/retrain/bench" }));
}

/** Runs `publishOne` for every item with at most `window` in flight. */
async function windowed(items, window, publishOne) {
  let next = 0;
  const workers = Array.from({ length: window }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await publishOne(item);
    }
  });
  await Promise.all(workers);
}

async function baseline(url, payloads) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = uniqueName("raw").toUpperCase().replace(/-/g, "_");
  await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File });
  await jsm.consumers.add(name, { durable_name: "raw", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: `${name}.e` });
  const consumer = await js.consumers.get(name, "raw");
  const messages = await consumer.consume({ max_messages: CONCURRENCY });
  const start = performance.now();
  const consumed = (async () => {
    let n = 0;
    for await (const m of messages) {
      m.ack();
      if (++n === payloads.length) break;
    }
  })();
  await windowed(payloads, WINDOW, (p) => js.publish(`${name}.e`, p.body, { msgID: p.id }));
  await consumed;
  const seconds = (performance.now() - start) / 1000;
  await nc.flush();
  await jsm.streams.delete(name);
  await nc.close();
  return payloads.length / seconds;
}

async function ours(url, evts) {
  const prefix = uniqueName("bench");
  const bus = await connectNatsBus({ servers: url, prefix, logger: silentLogger() });
  let handled = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await bus.subscribe({
    group: "bench",
    types: [T],
    concurrency: CONCURRENCY,
    handler: async () => {
      if (++handled === evts.length) done();
    },
  });
  const start = performance.now();
  await windowed(evts, WINDOW, (e) => bus.publish(e));
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await bus.destroy();
  await bus.close({ graceMs: 1000 });
  return evts.length / seconds;
}

// Tracing as in production: spans recorded and exported over OTLP/HTTP (batched) to a local sink
// that accepts and drops them. BENCH_TRACING=off disables the SDK to show what tracing costs.
const sink = createServer((req, res) => {
  exportedBatches++;
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
});
let exportedBatches = 0;
await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
const telemetry = setupTelemetry({
  serviceName: "bench-bus",
  env: process.env.BENCH_TRACING === "off" ? { OTEL_SDK_DISABLED: "true" } : { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}` },
});
const server = await startNatsServer();
try {
  const evts = events(N);
  const payloads = evts.map((e) => ({ id: e.id, body: encodeEvent(e) }));
  console.log(`bench bus: ${N} events of ~${payloads[0].body.length} B, publish window ${WINDOW}, consumer concurrency ${CONCURRENCY}, nats-server ${server.url}`);
  // Warm both paths (JIT, connections) so neither pays start-up in the measured run.
  // BENCH_ONLY=ours|baseline runs one side (for profiling); the JSON line needs both.
  const only = process.env.BENCH_ONLY;
  if (only !== "ours") await baseline(server.url, payloads.slice(0, 2000));
  if (only !== "baseline") await ours(server.url, events(2000));
  // Rounds alternate the two sides so that drift in the machine's other load falls on both alike; the
  // reported figures are the medians over rounds (BENCH_ROUNDS, default 3).
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const baselineRate = only === "ours" ? NaN : await baseline(server.url, payloads);
    const ourRate = only === "baseline" ? NaN : await ours(server.url, evts);
    rounds.push({ baselineRate, ourRate, ratio: ourRate / baselineRate });
    console.log(`round ${round + 1}: raw @nats-io/jetstream ${Math.round(baselineRate)} msgs/s, retrain bus (validate + inbox + tracing) ${Math.round(ourRate)} msgs/s, ratio ${(ourRate / baselineRate).toFixed(3)}`);
  }
  const baselineRate = median(rounds.map((r) => r.baselineRate));
  const ourRate = median(rounds.map((r) => r.ourRate));
  const ratio = median(rounds.map((r) => r.ratio));
  console.log(`raw @nats-io/jetstream: ${Math.round(baselineRate)} msgs/s (median of ${ROUNDS})`);
  console.log(`retrain bus (validate + inbox + tracing): ${Math.round(ourRate)} msgs/s (median of ${ROUNDS})`);
  await telemetry.forceFlush();
  console.log(`tracing: ${telemetry.mode}, ${exportedBatches} span batches exported to the sink`);
  console.log(JSON.stringify({ bench: "bus", ours_msgs_per_s: Math.round(ourRate), baseline_msgs_per_s: Math.round(baselineRate), ratio: Number(ratio.toFixed(3)) }));
  // The Service Bus adapter on the AMQP test peer, after the NATS line; its own JSON line comes last.
  await runServiceBusBench();
} finally {
  await server.stop();
  await telemetry.shutdown();
  sink.close();
}
