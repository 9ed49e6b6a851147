// pnpm bench:pipeline — the loop with every service as its own process on nats-server + Azurite.
// (a) Orchestration overhead: time from DataArrived to EndpointUpdated (CloudEvent `time` stamps)
//     minus what the trainer reports it spent reading, fitting and evaluating, over 30 sequential runs
//     of small datasets. (b) A wave of 100 per-customer runs (100 endpoints), first with 1 trainer
//     process and then with 2, each training one job at a time: wall time and the scale-out ratio.
// Last lines: {"bench":"pipeline-overhead",…} and {"bench":"pipeline-wave",…}.
import { performance } from "node:perf_hooks";
import { SeededRandom } from "@retrain/ml";
import { startDeployment, trainThroughBes } from "../test/dist/e2e/deployment.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WAVE = Number(process.env.BENCH_WAVE ?? 100);

function csv(rows, seed, weight = 1) {
  const random = new SeededRandom(seed);
  const lines = ["tenure,charges,plan,label"];
  for (let i = 0; i < rows; i++) {
    const tenure = random.nextFloat() * 60;
    const charges = 20 + random.nextFloat() * 100;
    const plan = ["basic", "plus", "pro"][random.nextInt(3)];
    const z = weight * (-0.08 * (tenure - 30) + 0.03 * (charges - 70)) + (plan === "basic" ? 0.5 : 0);
    lines.push(`${tenure.toFixed(1)},${charges.toFixed(2)},${plan},${random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0}`);
  }
  return lines.join("\n") + "\n";
}

const TRAINING = "  - { workspace: e2e, name: churn-training, learner: Two-Class Logistic Regression, label: label, parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1 } }";
const pipeline = (name, endpoint) => [
  `  - name: ${name}`,
  "    trainingWebService: { workspace: e2e, service: churn-training }",
  "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.5 }",
  `    targets: [ { kind: classic, workspace: e2e, webService: churn, endpoint: ${endpoint}, resourceName: "Churn [trained model]", createIfMissing: true } ]`,
  "    split: { fraction: 0.25, seed: 5 }",
];

async function deploy(trainers, pipelines) {
  const d = await startDeployment({ trainers, config: ["trainingServices:", TRAINING, "pipelines:", ...pipelines] });
  const model = await trainThroughBes(d, "churn-training", csv(2000, 1));
  const published = await fetch(`${d.scoring.url}/v1/workspaces/e2e/webservices`, {
    method: "POST",
    headers: { authorization: `Bearer ${d.key}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "churn", resourceName: "Churn [trained model]", model: { location: model }, modelId: "initial" }),
  });
  if (published.status !== 201) throw new Error(`publish: ${published.status} ${await published.text()}`);
  return d;
}

async function upload(d, pipelineName, body) {
  const response = await fetch(`${d.ingestion.url}/v1/pipelines/${pipelineName}/datasets`, { method: "PUT", headers: { authorization: `Bearer ${d.key}`, "content-type": "text/csv" }, body });
  if (response.status >= 300) throw new Error(`upload: ${response.status} ${await response.text()}`);
  return (await response.json()).runId;
}

const terminal = new Set(["retrain.endpoint.updated.v1", "retrain.promotion.failed.v1", "retrain.model.rejected.v1", "retrain.training.failed.v1"]);
async function endOf(d, runId, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const end = d.events.find((e) => terminal.has(e.type) && e.data.runId === runId);
    if (end) return end;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

// (a) overhead
const overheadDeployment = await deploy(1, pipeline("churn", "ep1"));
const overheads = [];
// Where the overhead goes: around training (job bookkeeping, blob I/O), evaluation, promotion.
const stages = { train: [], evaluate: [], promote: [] };
try {
  for (let i = 0; i < RUNS; i++) {
    // The relationship flips every run, so each challenger beats the champion and is promoted.
    const runId = await upload(overheadDeployment, "churn", csv(500, 1000 + i, i % 2 === 0 ? -1 : 1));
    const end = await endOf(overheadDeployment, runId);
    if (end.type !== "retrain.endpoint.updated.v1") throw new Error(`run ${i} ended ${end.type}`);
    const arrived = overheadDeployment.events.find((e) => e.type === "retrain.data.arrived.v1" && e.data.runId === runId);
    const trained = overheadDeployment.events.find((e) => e.type === "retrain.model.trained.v1" && e.data.runId === runId);
    overheads.push(Date.parse(end.time) - Date.parse(arrived.time) - trained.data.lineage.durationMs);
    const approved = overheadDeployment.events.find((e) => e.type === "retrain.model.approved.v1" && e.data.runId === runId);
    stages.train.push(Date.parse(trained.time) - Date.parse(arrived.time) - trained.data.lineage.durationMs);
    stages.evaluate.push(Date.parse(approved.time) - Date.parse(trained.time));
    stages.promote.push(Date.parse(end.time) - Date.parse(approved.time));
  }
} finally {
  await overheadDeployment.stop();
}
const median = percentile(overheads, 50);
const p95 = percentile(overheads, 95);
console.log(`overhead over ${RUNS} runs (DataArrived → EndpointUpdated minus training): median ${median} ms, p95 ${p95} ms`);
console.log(
  `  medians: around training ${percentile(stages.train, 50)} ms, evaluation ${percentile(stages.evaluate, 50)} ms, promotion ${percentile(stages.promote, 50)} ms`,
);
if (process.env.BENCH_SKIP_WAVE === "1") process.exit(0);

// (b) the wave
async function wave(trainers) {
  const names = Array.from({ length: WAVE }, (_, i) => `cust-${i}`);
  const d = await deploy(trainers, names.flatMap((name) => pipeline(name, name)));
  try {
    const datasets = names.map((_, i) => csv(20_000, 5000 + i, 0.5 + (i % 7) * 0.2));
    const started = performance.now();
    const runIds = await Promise.all(names.map((name, i) => upload(d, name, datasets[i])));
    const ends = await Promise.all(runIds.map((runId) => endOf(d, runId, 600_000)));
    const seconds = (performance.now() - started) / 1000;
    const promoted = ends.filter((e) => e.type === "retrain.endpoint.updated.v1").length;
    console.log(`wave of ${WAVE} runs with ${trainers} trainer process(es): ${seconds.toFixed(1)} s, ${promoted} promoted`);
    return seconds;
  } finally {
    await d.stop();
  }
}
const one = await wave(1);
const two = await wave(2);
console.log(JSON.stringify({ bench: "pipeline-overhead", runs: RUNS, median_ms: median, p95_ms: p95 }));
console.log(JSON.stringify({ bench: "pipeline-wave", endpoints: WAVE, one_trainer_s: Number(one.toFixed(2)), two_trainers_s: Number(two.toFixed(2)), ratio: Number((one / two).toFixed(3)) }));
