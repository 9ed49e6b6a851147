import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { LearnerName, TrainedModel, TrainingMatrix } from "../model.js";
import { TrainingAbortedError } from "../learners/errors.js";
import { sharedCopy } from "../learners/parallel.js";
import { modelFromState, resolveParameters } from "../learners/registry.js";
import { TrainingWorkerError, WorkerEntryNotFoundError } from "./errors.js";
import { deserializeLearnerError, type TrainingJob, type WorkerMessage } from "./protocol.js";

/** Options of {@link trainInWorker}. */
export interface TrainInWorkerOptions {
  readonly learner: LearnerName;
  /**
   * The training data. Buffers on a SharedArrayBuffer are shared with the worker as they are (no copy);
   * others are copied once into shared memory, leaving the caller's arrays untouched.
   */
  readonly matrix: TrainingMatrix;
  /** Hyperparameters by Studio name; validated before the worker starts. Default: the learner's defaults. */
  readonly parameters?: { readonly [name: string]: unknown };
  /** Seed of the run (see FitOptions.seed). */
  readonly seed: number;
  /** Terminates the worker and rejects with TrainingAbortedError. Default: none. */
  readonly signal?: AbortSignal;
  /** Called on this thread with the fraction done after each iteration / tree. Default: none. */
  readonly onProgress?: (fraction: number) => void;
  /** Threads `fit` may use inside the worker (see FitOptions.threads). Default: the learner's default. */
  readonly threads?: number;
  /**
   * The worker entry script (built JavaScript). Default: `dist/worker/train-worker.js` of the @retrain/ml
   * package, found from this module's directory (CommonJS) or by resolving `@retrain/ml` from the cwd.
   */
  readonly workerPath?: string;
}

/**
 * Runs the learner's `fit` in a worker thread so the calling event loop stays responsive; resolves with
 * the model rebuilt from the state the worker returns (identical predictions). Rejects with
 * LearnerParameterError before starting on bad parameters; with the learner's own error type when
 * training fails (TrainingDataError…); with TrainingAbortedError when `signal` fires (the worker is
 * terminated first); with TrainingWorkerError (cause attached) when the worker crashes or exits early.
 */
export async function trainInWorker(options: TrainInWorkerOptions): Promise<TrainedModel> {
  const { learner, matrix, seed, signal, onProgress } = options;
  const parameters = resolveParameters(learner, options.parameters ?? {});
  if (signal?.aborted === true) throw new TrainingAbortedError(learner, { cause: signal.reason });
  const entry = options.workerPath ?? defaultWorkerPath();
  if (!existsSync(entry)) throw new WorkerEntryNotFoundError([entry]);

  const job: TrainingJob = {
    learner,
    matrix: { rows: matrix.rows, features: matrix.features, x: sharedCopy(matrix.x), y: sharedCopy(matrix.y) },
    parameters,
    seed,
    threads: options.threads,
  };
  const worker = new Worker(entry, { workerData: job });

  return new Promise<TrainedModel>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      outcome();
    };
    const fail = (error: Error): void => {
      // Make sure the thread is gone before reporting, so "rejected" also means "no longer running".
      settle(() => void worker.terminate().finally(() => reject(error)));
    };
    const onAbort = (): void => fail(new TrainingAbortedError(learner, { cause: signal?.reason }));
    signal?.addEventListener("abort", onAbort, { once: true });

    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "progress") {
        if (!settled) onProgress?.(message.fraction);
      } else if (message.type === "done") {
        let model: TrainedModel;
        try {
          model = modelFromState(message.state);
        } catch (error) {
          fail(new TrainingWorkerError("the worker returned an unreadable model state", undefined, { cause: error }));
          return;
        }
        settle(() => resolve(model));
      } else {
        const known = deserializeLearnerError(message.error);
        if (known !== undefined) fail(known);
        else {
          const cause = Object.assign(new Error(message.error.message), { name: message.error.name, stack: message.error.stack });
          fail(new TrainingWorkerError(`training failed in the worker: ${message.error.message}`, undefined, { cause }));
        }
      }
    });
    worker.on("error", (error) => fail(new TrainingWorkerError(`the training worker crashed: ${error.message}`, undefined, { cause: error })));
    worker.on("messageerror", (error) => fail(new TrainingWorkerError("a message from the training worker could not be read", undefined, { cause: error })));
    worker.on("exit", (code) => {
      if (!settled) fail(new TrainingWorkerError(`the training worker exited with code ${code} before finishing`, code));
    });
  });
}

/**
 * `dist/worker/train-worker.js` of this package. Looked for from this module's own location — `__dirname`
 * under CommonJS (jest runs src/ that way), else the file URL V8 puts in a stack trace (built ESM, where
 * `import.meta` is not usable because the same source also runs as CommonJS) — then by resolving
 * `@retrain/ml` from the cwd. Throws WorkerEntryNotFoundError listing what was tried.
 */
export function defaultWorkerPath(): string {
  const tried: string[] = [];
  const candidates: string[] = [];
  for (const here of [typeof __dirname === "string" ? __dirname : undefined, moduleDirectoryFromStack()]) {
    const root = here === undefined ? undefined : packageRoot(path.resolve(here));
    if (root !== undefined) candidates.push(path.join(root, "dist", "worker", "train-worker.js"));
  }
  try {
    const main = createRequire(path.join(process.cwd(), "noop.js")).resolve("@retrain/ml");
    candidates.push(path.join(path.dirname(main), "worker", "train-worker.js"));
  } catch {
    // Not resolvable from here; fall through to the error below.
  }
  for (const candidate of candidates) {
    if (existsSync(candidate)) return candidate;
    tried.push(candidate);
  }
  throw new WorkerEntryNotFoundError(tried);
}

/** The directory of this module, read from the location V8 reports for this function's frame. */
function moduleDirectoryFromStack(): string | undefined {
  const match = /(file:\/\/\S+?)\/train-in-worker\.[cm]?[jt]s:\d+:\d+/.exec(new Error().stack ?? "");
  if (match?.[1] === undefined) return undefined;
  try {
    return fileURLToPath(match[1]);
  } catch {
    return undefined;
  }
}

function packageRoot(start: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "@retrain/ml") return dir;
      } catch {
        // An unreadable manifest is not ours; keep walking.
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
