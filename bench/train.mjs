// pnpm bench:train — our end-to-end "read CSV + fit + evaluate" against "pandas read_csv + scikit-learn
// fit + predict" (Debian's /usr/bin/python3), in the same run, on the same seeded CSVs (bench/.data/).
// Both sides train on the first 80 % of the rows and predict the last 20 %; the baseline writes its
// holdout predictions to a file and this script scores both sides with one implementation
// (learners/metrics.js). Pairs: logistic regression (same L2: C = 1/l2, same tol), histogram boosted
// trees (same hyperparameters), linear regression (no L2). Each side may use every core: ours runs its
// sweeps on worker threads (FitOptions.threads default), scikit-learn its OpenMP / BLAS pools.
// OPENBLAS_CORETYPE, when set on the machine, is passed through untouched.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { readCsv } from "../packages/ml/dist/data/csv-read.js";
import { evaluateBinary } from "../packages/ml/dist/evaluate/binary-metrics.js";
import { evaluateRegression } from "../packages/ml/dist/evaluate/regression-metrics.js";
import { learners } from "../packages/ml/dist/learners/registry.js";
import { rmse, rocAuc } from "../packages/ml/dist/learners/metrics.js";
import { defaultThreads } from "../packages/ml/dist/learners/parallel.js";
import { benchmarkCsv } from "./train-data.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, ".data");
const python = "/usr/bin/python3";
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const FEATURES = 20;
const HOLDOUT = 0.2;
/** Runs per side (interleaved); the fastest total of each side is reported. Other work on the machine only slows runs down. */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));

const PAIRS = [
  {
    bench: "train-logistic",
    task: "logistic",
    data: "binary",
    learner: "Two-Class Logistic Regression",
    parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1, optimizationTolerance: 1e-7, memorySize: 20 },
  },
  {
    bench: "train-boosted-trees",
    task: "boosted-trees",
    data: "binary",
    learner: "Two-Class Boosted Decision Tree",
    parameters: {
      numberOfTreesConstructed: 100,
      maximumNumberOfLeavesPerTree: 31,
      learningRate: 0.1,
      numberOfBins: 255,
      minimumNumberOfSamplesPerLeafNode: 20,
      l2RegularizationWeight: 0,
    },
  },
  {
    bench: "train-linear",
    task: "linear",
    data: "regression",
    learner: "Linear Regression",
    parameters: { l2RegularizationWeight: 0, includeIntercept: true },
  },
];

function seconds(from) {
  return (performance.now() - from) / 1000;
}

function checkPython() {
  const probe = spawnSync(python, ["-c", "import sklearn, pandas, numpy, threadpoolctl"], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.error(`${python} cannot import scikit-learn / pandas / numpy:\n${probe.stderr || probe.error?.message}`);
    console.error("install them with: sudo apt-get install -y python3-sklearn python3-pandas python3-numpy");
    process.exit(1);
  }
}

/** Train / holdout matrices from a frame: features f0…, then `label`; x on shared memory (no copy for helpers). */
function matrices(frame) {
  const label = frame.column("label");
  const features = frame.columns.filter((c) => c.name !== "label");
  if (label?.kind !== "numeric" || features.some((c) => c.kind !== "numeric")) throw new Error("expected numeric columns");
  const rows = frame.rows;
  const trainRows = rows - Math.round(rows * HOLDOUT);
  const f = features.length;
  const build = (from, to) => {
    const n = to - from;
    const x = new Float64Array(new SharedArrayBuffer(8 * n * f));
    for (let j = 0; j < f; j++) {
      const values = features[j].values;
      for (let i = 0; i < n; i++) x[i * f + j] = values[from + i];
    }
    const y = new Float64Array(new SharedArrayBuffer(8 * n));
    y.set(label.values.subarray(from, to));
    return { rows: n, features: f, x, y };
  };
  return { train: build(0, trainRows), test: build(trainRows, rows) };
}

async function ours(pair, csv) {
  const t0 = performance.now();
  const frame = await readCsv(csv);
  const { train, test } = matrices(frame);
  const read = seconds(t0);
  const t1 = performance.now();
  const model = learners[pair.learner].fit(train, pair.parameters, { seed: 1 });
  const fit = seconds(t1);
  const t2 = performance.now();
  const predictions = model.predict(test.x, test.rows);
  // Evaluate Model, as the product runs it after scoring.
  if (pair.data === "binary") evaluateBinary(test.y, predictions);
  else evaluateRegression(test.y, predictions);
  const evaluate = seconds(t2);
  return { read, fit, evaluate, total: read + fit + evaluate, predictions, labels: test.y };
}

function baseline(pair, csv) {
  const out = path.join(dataDir, `${pair.task}-baseline-predictions.f64`);
  const run = spawnSync(python, [path.join(here, "train_baseline.py"), pair.task, csv, out], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`baseline ${pair.task} failed:\n${run.stderr}`);
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1));
  const bytes = readFileSync(out);
  rmSync(out);
  const predictions = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  return { ...report, total: report.read_s + report.fit_s + report.evaluate_s, predictions };
}

const fmt = (s) => s.toFixed(3);

async function main() {
  checkPython();
  console.log(`generating / reusing seeded CSVs under ${path.relative(process.cwd(), dataDir)} (${ROWS} rows × ${FEATURES} features)`);
  const csv = {
    binary: await benchmarkCsv(dataDir, "binary", ROWS, FEATURES, 1),
    regression: await benchmarkCsv(dataDir, "regression", ROWS, FEATURES, 2),
  };
  const lines = [];
  // BENCH_ONLY=train-boosted-trees (comma-separated) runs a subset while iterating on one learner.
  const only = process.env.BENCH_ONLY?.split(",");
  for (const pair of PAIRS.filter((p) => only === undefined || only.includes(p.bench))) {
    const file = csv[pair.data];
    // Warm the page cache for both sides alike.
    readFileSync(file);
    let base;
    let mine;
    for (let run = 0; run < REPEAT; run++) {
      const b = baseline(pair, file);
      const m = await ours(pair, file);
      if (base === undefined || b.total < base.total) base = b;
      if (mine === undefined || m.total < mine.total) mine = m;
    }
    const pools = base.thread_pools.map((p) => `${p.api} ${p.threads}`).join(", ");
    console.log(`\n${pair.bench} (${path.basename(file)}${REPEAT > 1 ? `; fastest of ${REPEAT} runs per side` : ""})`);
    console.log(`  ours     read ${fmt(mine.read)} s  fit ${fmt(mine.fit)} s  evaluate ${fmt(mine.evaluate)} s  total ${fmt(mine.total)} s  [threads: ${defaultThreads()} of ${availableParallelism()} cores]`);
    console.log(`  sklearn  read ${fmt(base.read_s)} s  fit ${fmt(base.fit_s)} s  evaluate ${fmt(base.evaluate_s)} s  total ${fmt(base.total)} s  [scikit-learn ${base.sklearn}; ${pools}${base.iterations ? `; ${base.iterations} iterations` : ""}]`);
    console.log(`  fit-only ratio ${fmt(mine.fit / base.fit_s)}`);
    const line = { bench: pair.bench, ours_s: +fmt(mine.total), baseline_s: +fmt(base.total), ratio: +fmt(mine.total / base.total) };
    if (pair.data === "binary") {
      line.auc_ours = +rocAuc(mine.predictions, mine.labels).toFixed(5);
      line.auc_baseline = +rocAuc(base.predictions, mine.labels).toFixed(5);
    } else {
      line.rmse_ours = +rmse(mine.predictions, mine.labels).toFixed(5);
      line.rmse_baseline = +rmse(base.predictions, mine.labels).toFixed(5);
    }
    lines.push(line);
  }
  console.log("");
  for (const line of lines) console.log(JSON.stringify(line));
}

await main();
