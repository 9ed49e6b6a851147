// pnpm bench:score — RRS execute on the scoring host vs a bare node:http JSON endpoint, in the same
// run, on loopback. Both servers run as their own processes (autocannon gets this one): ours is the
// built services/scoring/dist/main.js (filesystem store, in-memory bus) serving one endpoint at
// ThrottleLevel High with a 20-feature Two-Class Logistic Regression; the baseline only does
// JSON.parse + JSON.stringify of the same request. Each side gets a short warm-up, then 50
// connections × 10 s of one-row requests. The last line is the machine-readable result.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { freePort } from "@retrain/testing";
// Loaded from its build, as scripts/start.mjs loads workspace packages (bench:score runs tsc -b first).
import { categoricalColumn, encodeIlearner, fitFeaturizer, frameFromColumns, learners, numericColumn } from "../packages/ml/dist/index.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 2);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const FEATURES = 20;
const ADMIN_KEY = randomBytes(24).toString("hex");

function trainModel() {
  const rows = 2000;
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const weights = Array.from({ length: FEATURES }, () => random() * 2 - 1);
  const columns = Array.from({ length: FEATURES }, () => new Float64Array(rows));
  const labels = [];
  for (let r = 0; r < rows; r++) {
    let z = 0;
    for (let j = 0; j < FEATURES; j++) {
      const x = random() * 2 - 1;
      columns[j][r] = x;
      z += x * weights[j];
    }
    labels.push(1 / (1 + Math.exp(-2 * z)) > random() ? "yes" : "no");
  }
  const frame = frameFromColumns([...columns.map((values, j) => numericColumn(`f${j}`, values)), categoricalColumn("label", labels)]);
  const featurizer = fitFeaturizer(frame, { label: "label", task: "binary", positiveLabel: "yes" });
  const learner = learners["Two-Class Logistic Regression"];
  const model = learner.fit(featurizer.trainingMatrix(frame), {}, { seed: 1 });
  return encodeIlearner({
    learner: model.learner,
    task: model.task,
    parameters: model.parameters,
    state: model.toState(),
    featureSchema: featurizer.schema,
    lineage: { datasetSha256: "0".repeat(64), rows, seed: 1, trainedAt: new Date().toISOString(), libraryVersion: "bench" },
  });
}

function start(args, env) {
  // BENCH_PROFILE=<dir> writes a CPU profile of each server process there (for finding hot spots).
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-8000)));
  return { child, stderr: () => stderr };
}

async function waitReady(url, proc) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`server exited (${proc.child.exitCode}): ${proc.stderr()}`);
    const ok = await fetch(url).then((r) => r.status < 500, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready: ${proc.stderr()}`);
}

async function call(method, url, body) {
  const response = await fetch(url, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${url} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** CPU time (user + system, µs) a process has used so far, from /proc (Linux). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100);
}

/** One measured run plus the server's CPU time per request: a figure the machine's other load barely moves. */
async function measure(options, proc) {
  const before = cpuMicros(proc.child.pid);
  const result = await run(options);
  result.cpuMicrosPerRequest = (cpuMicros(proc.child.pid) - before) / Math.max(1, result.requests.total);
  return result;
}

function run(options) {
  return new Promise((resolveRun, reject) => {
    autocannon({ connections: CONNECTIONS, pipelining: 1, ...options }, (error, result) => (error ? reject(error) : resolveRun(result)));
  });
}

const BASELINE = `
const { createServer } = require("node:http");
createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body;
    try {
      body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

const dir = await mkdtemp(join(tmpdir(), "retrain-bench-score-"));
const procs = [];
try {
  // The trained model is served once over HTTP (an allow-listed host), as a trainer's store would.
  const model = trainModel();
  const modelServer = createServer((_req, res) => res.writeHead(200, { "content-length": model.length }).end(model));
  const modelPort = await freePort();
  await new Promise((r) => modelServer.listen(modelPort, "127.0.0.1", r));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const scoring = start(["services/scoring/dist/main.js"], {
    BLOB: "filesystem",
    BLOB_ROOT: join(dir, "blobs"),
    SCORING_ALLOWED_HOSTS: `127.0.0.1:${modelPort}`,
    BUS: "memory",
    SCORING_PORT: String(port),
    SCORING_DATA_DIR: join(dir, "data"),
    SCORING_KEK: randomBytes(32).toString("base64"),
    RETRAIN_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: "warn",
  });
  procs.push(scoring);
  await waitReady(`${url}/readyz`, scoring);
  const published = await call("POST", `${url}/v1/workspaces/bench/webservices`, { name: "Bench", model: { uri: `http://127.0.0.1:${modelPort}/model.ilearner` } });
  modelServer.close();
  const endpoint = await call("PUT", `${url}/workspaces/bench/webservices/${published.webService.Id}/endpoints/bench`, { ThrottleLevel: "High", MaxConcurrentCalls: 200 });

  const basePort = await freePort();
  const baseline = start(["-e", BASELINE], { PORT: String(basePort) });
  procs.push(baseline);
  await waitReady(`http://127.0.0.1:${basePort}/`, baseline);

  const columnNames = Array.from({ length: FEATURES }, (_, j) => `f${j}`);
  const values = [Array.from({ length: FEATURES }, (_, j) => String(((j * 37) % 11) / 10 - 0.5))];
  const body = JSON.stringify({ Inputs: { input1: { ColumnNames: columnNames, Values: values } }, GlobalParameters: {} });
  const ours = {
    url: `${endpoint.ApiLocation}/execute?api-version=2.0&details=true`,
    method: "POST",
    headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
    body,
  };
  const base = { url: `http://127.0.0.1:${basePort}/`, method: "POST", headers: { "content-type": "application/json" }, body };

  const check = await fetch(ours.url, { method: "POST", headers: ours.headers, body });
  if (check.status !== 200) throw new Error(`RRS check failed: ${check.status} ${await check.text()}`);
  console.log(`RRS answer: ${[...check.headers].map(([k, v]) => `${k}: ${v}`).join("; ")} | ${await check.text()}`);

  // Rounds alternate the two sides so that drift in the machine's other load falls on both alike; the
  // JSON line reports the round with the median ratio (BENCH_ROUNDS, default 3).
  await run({ ...ours, duration: WARMUP_S });
  await run({ ...base, duration: WARMUP_S });
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const o = await measure({ ...ours, duration: DURATION_S }, scoring);
    const b = await measure({ ...base, duration: DURATION_S }, baseline);
    rounds.push({ o, b, ratio: o.requests.average / b.requests.average });
    console.log(`round ${round + 1}: ours ${Math.round(o.requests.average)} req/s (${o.cpuMicrosPerRequest.toFixed(1)} µs CPU/request), baseline ${Math.round(b.requests.average)} req/s (${b.cpuMicrosPerRequest.toFixed(1)} µs), ratio ${(o.requests.average / b.requests.average).toFixed(3)}`);
  }
  const middle = [...rounds].sort((x, y) => x.ratio - y.ratio)[Math.floor(rounds.length / 2)];
  const oursResult = middle.o;
  const baseResult = middle.b;

  const summary = (name, r) =>
    `${name.padEnd(9)} ${Math.round(r.requests.average)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  server CPU ${r.cpuMicrosPerRequest.toFixed(1)} µs/request  errors ${r.errors} non2xx ${r.non2xx} timeouts ${r.timeouts}`;
  console.log(`${CONNECTIONS} connections × ${DURATION_S} s per side and round, one row of ${FEATURES} features; the round with the median ratio:`);
  console.log(summary("ours", oursResult));
  console.log(summary("baseline", baseResult));
  const oursRps = Math.round(oursResult.requests.average);
  const baselineRps = Math.round(baseResult.requests.average);
  console.log(
    JSON.stringify({
      bench: "score",
      ours_rps: oursRps,
      baseline_rps: baselineRps,
      ratio: Math.round((oursRps / baselineRps) * 1000) / 1000,
      p99_ms: oursResult.latency.p99,
      errors: oursResult.errors + oursResult.non2xx + oursResult.timeouts,
    }),
  );
} finally {
  for (const proc of procs) proc.child.kill("SIGTERM");
  await Promise.all(procs.map((p) => (p.child.exitCode === null ? new Promise((r) => p.child.once("exit", r)) : undefined)));
  await rm(dir, { recursive: true, force: true });
}
