// pnpm demo — what Retrain can do so far, on the embedded default (in-memory bus, filesystem blob store).
// Until the retraining loop exists this is a round trip through the foundation: a dataset is stored
// as a blob, a DataArrived event about it travels through the bus to a consumer that reads it back and
// checks its hash; a malformed event is dead-lettered with its reason while the good ones keep flowing.
// `--json` prints a machine-readable summary instead.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSystemBlobStore } from "../packages/blob/dist/index.js";
import { MemoryBus } from "../packages/bus/dist/index.js";
import { createEvent, EventTypes, exampleData, ulid } from "../packages/contracts/dist/index.js";
import { setupTelemetry, silentLogger } from "../packages/telemetry/dist/index.js";

const json = process.argv.includes("--json");
const say = (line = "") => {
  if (!json) console.log(line);
};

const telemetry = setupTelemetry({ serviceName: "retrain-demo", exporter: "memory", env: {} });
const root = await mkdtemp(join(tmpdir(), "retrain-demo-"));
const store = new FileSystemBlobStore({ root, urlSecret: "demo" });
const bus = new MemoryBus({ logger: silentLogger() });

say("Retrain demo — the foundation (embedded default: in-memory bus, filesystem blob store)");
say(`blob store: ${root}`);

// 1. A dataset arrives and is stored as a blob.
const rows = ["temperature,humidity,rentals"];
for (let i = 0; i < 500; i++) rows.push(`${(10 + (i % 25)).toFixed(1)},${(30 + (i % 60)).toFixed(1)},${100 + ((i * 37) % 400)}`);
const csv = Buffer.from(rows.join("\n") + "\n");
const sha256 = createHash("sha256").update(csv).digest("hex");
const runId = ulid();
const name = `ingestion/datasets/bike-rental/${runId}.csv`;
const props = await store.put(name, csv, { contentType: "text/csv" });
say(`1. stored dataset ${name} (${props.size} bytes, etag ${props.etag}, sha256 ${sha256.slice(0, 12)}…)`);

// 2. A consumer group (as the trainer will be) reads every DataArrived and checks the blob it names.
const received = [];
const done = new Promise((resolve) => {
  void bus.subscribe({
    group: "trainer",
    types: [EventTypes.DataArrived],
    maxAttempts: 3,
    handler: async (event) => {
      const { body, properties } = await store.getBuffer(event.data.dataset.name);
      const actual = createHash("sha256").update(body).digest("hex");
      if (actual !== event.data.dataset.sha256) throw new Error(`sha256 mismatch for ${event.data.dataset.name}`);
      received.push({ eventId: event.id, runId: event.data.runId, bytes: body.length, etag: properties.etag, sha256Verified: true });
      resolve();
    },
  });
});

// 3. A malformed event from a confused upstream: dead-lettered with its reason, never a crash.
await bus.publishRaw(EventTypes.DataArrived, Buffer.from('{"specversion":"1.0","type":"retrain.data.arrived.v1","data":{}}'));

const example = exampleData(EventTypes.DataArrived);
const event = createEvent(
  EventTypes.DataArrived,
  { ...example, runId, runSequence: 1, dataset: { container: "retrain", name, etag: props.etag, size: props.size, sha256, contentType: "text/csv" } },
  { source: "/retrain/demo" },
);
await bus.publish(event);
const duplicate = await bus.publish(event);
await done;
const deadLetters = await bus.listDeadLetters();

say(`2. published DataArrived ${event.id} for run ${runId}; the same event again was ${duplicate.duplicate ? "dropped as a duplicate" : "delivered twice"}`);
say(`3. consumer "trainer" read the blob back: ${received[0].bytes} bytes, sha256 verified`);
for (const d of deadLetters) say(`4. dead letter in group "${d.group}": ${d.reason} — ${d.description.slice(0, 110)}`);
// The consumer's span ends just after its handler returns: wait for it rather than for a fixed time.
let spans = [];
for (let i = 0; i < 100 && !spans.some((s) => s.kind === "consumer"); i++) {
  await new Promise((resolve) => setImmediate(resolve));
  spans = telemetry.finishedSpans().filter((s) => s.attributes["retrain.run_id"] === runId);
}
say(`5. one trace for the run: ${spans.map((s) => `${s.name} (${s.kind})`).join(" → ")}, trace ${spans[0]?.traceId}`);
say("");
say("Next: the trainer (BES), the scoring host and the full retraining loop replace this round trip.");

const summary = {
  dataset: { name, size: props.size, sha256 },
  published: event.id,
  duplicateDropped: duplicate.duplicate,
  received,
  deadLetters: deadLetters.map((d) => ({ group: d.group, reason: d.reason, description: d.description })),
  trace: { traceId: spans[0]?.traceId, spans: spans.map((s) => s.name) },
};
if (json) console.log(JSON.stringify(summary, null, 2));
await bus.close({ graceMs: 1000 });
await telemetry.shutdown();
await rm(root, { recursive: true, force: true });
