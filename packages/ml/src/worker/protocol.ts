// What the parent and a training worker exchange. The worker runs `runTrainingJob` on its workerData and
// posts progress, then the model state (array buffers transferred) or a serialised error.
import type { LearnerName, ModelState, TrainingMatrix } from "../model.js";
import { LearnerParameterError, ModelStateError, TrainingAbortedError, TrainingDataError } from "../learners/errors.js";
import { trainLearner } from "../learners/registry.js";

/** The job a training worker receives as `workerData`. */
export interface TrainingJob {
  readonly learner: LearnerName;
  readonly matrix: TrainingMatrix;
  readonly parameters: { readonly [name: string]: unknown };
  readonly seed: number;
  /** Threads `fit` may use inside the worker; undefined: the learner's default. */
  readonly threads: number | undefined;
}

/** An error as it crosses the thread boundary: its class name, message and the context fields it carries. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly fields: { readonly [key: string]: string | number | boolean | null };
}

/** Messages from a training worker to its parent. */
export type WorkerMessage =
  | { readonly type: "progress"; readonly fraction: number }
  | { readonly type: "done"; readonly state: ModelState }
  | { readonly type: "error"; readonly error: SerializedError };

/** Something with `postMessage`, as `parentPort` is (kept abstract so the job can be run in-process by tests). */
export interface MessageSink {
  postMessage(message: WorkerMessage, transfer?: ArrayBuffer[]): void;
}

/** Trains `job` and reports to `sink`: progress messages, then "done" with the state, or "error". */
export function runTrainingJob(job: TrainingJob, sink: MessageSink): void {
  try {
    const model = trainLearner(job.learner, job.matrix, job.parameters, {
      seed: job.seed,
      ...(job.threads === undefined ? {} : { threads: job.threads }),
      onProgress: (fraction) => sink.postMessage({ type: "progress", fraction }),
    });
    const state = model.toState();
    const transfer: ArrayBuffer[] = [];
    for (const array of Object.values(state.arrays)) {
      // Arrays the model made for its state own their buffers; anything shared is cloned instead.
      if (array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength) transfer.push(array.buffer);
    }
    sink.postMessage({ type: "done", state }, transfer);
  } catch (error) {
    sink.postMessage({ type: "error", error: serializeError(error) });
  }
}

/** The name, message, stack and primitive own fields of `error`. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), stack: undefined, fields: {} };
  const fields: { [key: string]: string | number | boolean | null } = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") fields[key] = value;
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

/**
 * Rebuilds the learner errors a worker reports as their own classes (so callers catch the same types as
 * in-process); undefined for anything else.
 */
export function deserializeLearnerError(error: SerializedError): Error | undefined {
  const f = error.fields;
  const text = (key: string): string => String(f[key] ?? "");
  let rebuilt: Error | undefined;
  switch (error.name) {
    case "LearnerParameterError":
      rebuilt = new LearnerParameterError(text("learner"), text("parameter"), text("allowed"), f.value);
      break;
    case "TrainingDataError":
      rebuilt = new TrainingDataError(text("learner"), text("problem"));
      break;
    case "ModelStateError":
      rebuilt = new ModelStateError(text("learner"), text("problem"));
      break;
    case "AbortError":
      rebuilt = new TrainingAbortedError(text("learner"));
      break;
    default:
      return undefined;
  }
  if (error.stack !== undefined) rebuilt.stack = error.stack;
  return rebuilt;
}
