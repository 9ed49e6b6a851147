import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { LearnerParameterError, TrainingAbortedError, TrainingDataError } from "../learners/errors.js";
import { trainLearner } from "../learners/registry.js";
import { makeLogistic, makeXor } from "../learners/synthetic.js";
import { TrainingWorkerError, WorkerEntryNotFoundError } from "./errors.js";
import { defaultWorkerPath, trainInWorker } from "./train-in-worker.js";

const root = path.resolve(__dirname, "../../../..");
const scratch = mkdtempSync(path.join(tmpdir(), "retrain-worker-"));
const data = makeXor(40_000, 6, 0.02, 1);

beforeAll(() => {
  // The worker runs the built JavaScript; build it (type errors elsewhere in the package do not block emit).
  spawnSync("npx", ["tsc", "-b", "packages/ml"], { cwd: root, stdio: "ignore" });
  expect(existsSync(defaultWorkerPath())).toBe(true);
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Resolves when `predicate` holds, polling every few ms until `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5)); // time-based by design: a poll interval, bounded by the deadline
  }
}

describe("trainInWorker", () => {
  it("trains off the event loop and returns a model identical to an in-process fit", async () => {
    const parameters = { numberOfTreesConstructed: 60 };
    const progress: number[] = [];
    let ticks = 0;
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    const model = await trainInWorker({
      learner: "Two-Class Boosted Decision Tree",
      matrix: data,
      parameters,
      seed: 3,
      onProgress: (fraction) => progress.push(fraction),
    });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // The event loop kept running while the worker trained.
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
    expect(maxGap).toBeLessThan(100);
    expect(progress.at(-1)).toBe(1);
    const local = trainLearner("Two-Class Boosted Decision Tree", data, parameters, { seed: 3 });
    expect(model.predict(data.x, 1000)).toEqual(local.predict(data.x, 1000));
  });

  it("terminates the worker promptly when aborted mid-training", async () => {
    const controller = new AbortController();
    let progressed = false;
    const training = trainInWorker({
      learner: "Two-Class Boosted Decision Tree",
      matrix: data,
      parameters: { numberOfTreesConstructed: 5_000 },
      seed: 1,
      signal: controller.signal,
      onProgress: () => {
        progressed = true;
      },
    });
    const outcome = training.catch((error: unknown) => error);
    await until(() => progressed);
    const abortedAt = performance.now();
    controller.abort();
    const error = await outcome;
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(error).toBeInstanceOf(TrainingAbortedError);
    expect(error).toMatchObject({ name: "AbortError", learner: "Two-Class Boosted Decision Tree" });
  });

  it("rejects an already-aborted signal and bad parameters before starting a worker", async () => {
    await expect(
      trainInWorker({ learner: "Linear Regression", matrix: data, seed: 1, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(TrainingAbortedError);
    await expect(
      trainInWorker({ learner: "Linear Regression", matrix: data, seed: 1, parameters: { l2RegularizationWeight: -1 } }),
    ).rejects.toBeInstanceOf(LearnerParameterError);
  });

  it("rethrows a learner's own error type from the worker", async () => {
    const bad = { ...makeLogistic(100, [1], 0, 1) };
    const y = Float64Array.from(bad.y);
    y[5] = 3;
    const error = await trainInWorker({ learner: "Two-Class Logistic Regression", matrix: { ...bad, y }, seed: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDataError);
    expect((error as TrainingDataError).problem).toMatch(/y\[5\] is 3/);
  });

  it("finds the built worker entry from built ESM, whatever the cwd", () => {
    const built = path.join(root, "packages/ml/dist/worker/train-in-worker.js");
    const script = `import { defaultWorkerPath } from ${JSON.stringify(pathToFileURL(built).href)}; console.log(defaultWorkerPath());`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: tmpdir(), encoding: "utf8" });
    expect(run.stdout.trim()).toBe(path.join(root, "packages/ml/dist/worker/train-worker.js"));
  });

  it("rejects with TrainingWorkerError carrying the cause when the worker crashes or exits", async () => {
    const crashing = path.join(scratch, "crash.mjs");
    writeFileSync(crashing, 'throw new RangeError("boom");\n');
    const crash = await trainInWorker({ learner: "Linear Regression", matrix: data, seed: 1, workerPath: crashing }).catch((e: unknown) => e);
    expect(crash).toBeInstanceOf(TrainingWorkerError);
    expect((crash as TrainingWorkerError).cause).toMatchObject({ message: "boom" });

    const exiting = path.join(scratch, "exit.mjs");
    writeFileSync(exiting, "process.exit(3);\n");
    const exit = await trainInWorker({ learner: "Linear Regression", matrix: data, seed: 1, workerPath: exiting }).catch((e: unknown) => e);
    expect(exit).toBeInstanceOf(TrainingWorkerError);
    expect((exit as TrainingWorkerError).exitCode).toBe(3);

    await expect(
      trainInWorker({ learner: "Linear Regression", matrix: data, seed: 1, workerPath: path.join(scratch, "missing.js") }),
    ).rejects.toBeInstanceOf(WorkerEntryNotFoundError);
  });
});
