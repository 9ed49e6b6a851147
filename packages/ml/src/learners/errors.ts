import type { LearnerName } from "../model.js";

/** A hyperparameter was unknown, of the wrong type or out of range; `allowed` says what would be accepted. */
export class LearnerParameterError extends Error {
  override readonly name = "LearnerParameterError";

  constructor(
    readonly learner: LearnerName | string,
    /** The offending parameter's name. */
    readonly parameter: string,
    /** The accepted values, in words: `"integer in [1, 1000]"`, `"one of: learningRate, …"`. */
    readonly allowed: string,
    /** The value that was given. */
    readonly value: unknown,
  ) {
    super(`${learner}: parameter "${parameter}" must be ${allowed}, got ${describe(value)}`);
  }
}

/**
 * Training stopped because its AbortSignal fired. `name` is "AbortError" and `code` "ABORT_ERR", like
 * Node's own AbortError, so generic cancellation checks (`err.name === "AbortError"`) recognise it.
 */
export class TrainingAbortedError extends Error {
  override readonly name = "AbortError";
  readonly code = "ABORT_ERR";

  constructor(
    readonly learner: LearnerName | string,
    options?: { cause?: unknown },
  ) {
    super(`${learner}: training was aborted`, options);
  }
}

/** The training matrix cannot be used (shape mismatch, non-finite value, a label that is not 0/1…). */
export class TrainingDataError extends Error {
  override readonly name = "TrainingDataError";

  constructor(
    readonly learner: LearnerName | string,
    /** What is wrong, in words. */
    readonly problem: string,
  ) {
    super(`${learner}: invalid training data: ${problem}`);
  }
}

/** A {@link ModelState} given to `fromState` is not one this learner wrote (wrong kind, missing or mis-sized array). */
export class ModelStateError extends Error {
  override readonly name = "ModelStateError";

  constructor(
    readonly learner: LearnerName | string,
    /** What is wrong, in words. */
    readonly problem: string,
  ) {
    super(`${learner}: invalid model state: ${problem}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  return typeof value;
}
