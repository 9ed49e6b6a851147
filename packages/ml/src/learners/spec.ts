import type { LearnerName, ModelState, TaskKind, TrainedModel, TrainingMatrix } from "../model.js";
import { LearnerParameterError, ModelStateError, TrainingAbortedError, TrainingDataError } from "./errors.js";

/** Hyperparameter values of one learner, by Studio's parameter name. */
export type ParameterValues = { readonly [name: string]: number | boolean };

/** How one hyperparameter is declared: its kind, its allowed range and what it does. */
export type ParameterDefinition =
  | {
      readonly kind: "number";
      readonly min: number;
      readonly max: number;
      /** When true, `min` itself is not allowed (a weight that must be positive). */
      readonly minExclusive?: boolean;
      readonly description: string;
    }
  | { readonly kind: "integer"; readonly min: number; readonly max: number; readonly description: string }
  | { readonly kind: "boolean"; readonly description: string };

/** Options of one training run. */
export interface FitOptions {
  /** Seeds every random choice (bin sampling…): the same seed, data and parameters give the same model bit for bit. */
  readonly seed: number;
  /** Checked every iteration / tree; when it fires, `fit` throws {@link TrainingAbortedError}. Default: none. */
  readonly signal?: AbortSignal;
  /** Called with the fraction done (0..1) after each iteration / tree. Default: none. */
  readonly onProgress?: (fraction: number) => void;
  /**
   * Threads the numeric sweeps may use, this one included (helpers are worker threads over shared memory).
   * The result does not depend on it. Default: the machine's parallelism, at most 4.
   */
  readonly threads?: number;
}

/** A learner as Studio names it: its parameters with Studio-classic defaults, training, and rebuilding from state. */
export interface LearnerSpec<P extends ParameterValues> {
  readonly name: LearnerName;
  readonly task: TaskKind;
  /** Studio-classic defaults of every parameter. */
  readonly defaults: Readonly<P>;
  /** Declaration (kind, range, meaning) of every parameter; what {@link resolveLearnerParameters} checks against. */
  readonly parameters: { readonly [K in keyof P]: ParameterDefinition };
  /** Trains on `m`; `params` are validated and completed with the defaults first. */
  fit(m: TrainingMatrix, params: Partial<P>, options: FitOptions): TrainedModel;
  /** Rebuilds the model `toState()` returned; its predictions are identical bit for bit. */
  fromState(state: ModelState): TrainedModel;
}

/**
 * Validates `given` against a learner's declarations and fills in defaults. Throws
 * {@link LearnerParameterError} naming the first unknown, mistyped or out-of-range parameter.
 */
export function resolveLearnerParameters<P extends ParameterValues>(
  spec: Pick<LearnerSpec<P>, "name" | "defaults" | "parameters">,
  given: { readonly [name: string]: unknown },
): P {
  const declared = spec.parameters as { readonly [name: string]: ParameterDefinition };
  const resolved: { [name: string]: number | boolean } = { ...spec.defaults };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const def = Object.prototype.hasOwnProperty.call(declared, key) ? declared[key] : undefined;
    if (def === undefined) {
      throw new LearnerParameterError(spec.name, key, `one of: ${Object.keys(declared).join(", ")}`, value);
    }
    resolved[key] = checkValue(spec.name, key, def, value);
  }
  return resolved as P;
}

function checkValue(learner: LearnerName, key: string, def: ParameterDefinition, value: unknown): number | boolean {
  if (def.kind === "boolean") {
    if (typeof value !== "boolean") throw new LearnerParameterError(learner, key, "a boolean", value);
    return value;
  }
  const range =
    def.kind === "integer"
      ? `an integer in [${def.min}, ${def.max}]`
      : `a number in ${def.minExclusive === true ? "(" : "["}${def.min}, ${def.max}]`;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new LearnerParameterError(learner, key, range, value);
  if (def.kind === "integer" && !Number.isInteger(value)) throw new LearnerParameterError(learner, key, range, value);
  const belowMin = def.kind === "number" && def.minExclusive === true ? value <= def.min : value < def.min;
  if (belowMin || value > def.max) throw new LearnerParameterError(learner, key, range, value);
  return value;
}

/** Throws {@link TrainingAbortedError} when `signal` has fired; learners call it every iteration / tree. */
export function throwIfAborted(learner: LearnerName, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new TrainingAbortedError(learner, { cause: signal.reason });
}

/**
 * Checks the matrix shape and values before any work: sizes agree, at least one row, every x finite
 * (NaN allowed with `allowMissing`, for learners that route missing values themselves), and for binary
 * tasks every label 0 or 1 (both present).
 */
export function checkTrainingMatrix(
  learner: LearnerName,
  task: TaskKind,
  m: TrainingMatrix,
  options: { allowMissing?: boolean } = {},
): void {
  const { rows, features, x, y } = m;
  if (!Number.isInteger(rows) || rows < 1) throw new TrainingDataError(learner, `rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(features) || features < 1) {
    throw new TrainingDataError(learner, `features must be a positive integer, got ${features}`);
  }
  if (x.length !== rows * features) {
    throw new TrainingDataError(learner, `x has ${x.length} values, expected rows × features = ${rows * features}`);
  }
  if (y.length !== rows) throw new TrainingDataError(learner, `y has ${y.length} values, expected ${rows}`);
  const allowMissing = options.allowMissing === true;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v - v !== 0 && !(allowMissing && v !== v)) throw new TrainingDataError(learner, `x[${Math.floor(i / features)}, ${i % features}] is ${v}; impute first`);
  }
  let positives = 0;
  for (let i = 0; i < rows; i++) {
    const v = y[i] as number;
    if (task === "binary") {
      if (v !== 0 && v !== 1) throw new TrainingDataError(learner, `label y[${i}] is ${v}; binary labels must be 0 or 1`);
      positives += v;
    } else if (v - v !== 0) {
      throw new TrainingDataError(learner, `label y[${i}] is ${v}; labels must be finite`);
    }
  }
  if (task === "binary" && (positives === 0 || positives === rows)) {
    throw new TrainingDataError(learner, "binary labels need both classes (0 and 1)");
  }
}

/** The metadata every learner stores: its name, task, feature count and resolved parameters. */
export function stateMeta(model: TrainedModel): { [key: string]: string | number | boolean | { [name: string]: number | string | boolean } } {
  return { learner: model.learner, task: model.task, features: model.features, parameters: { ...model.parameters } };
}

/** Reads the fields {@link stateMeta} wrote, checking the kind and learner name; throws {@link ModelStateError}. */
export function readStateMeta<P extends ParameterValues>(
  spec: Pick<LearnerSpec<P>, "name" | "defaults" | "parameters">,
  kind: ModelState["kind"],
  state: ModelState,
): { features: number; parameters: P } {
  if (state.kind !== kind) throw new ModelStateError(spec.name, `kind is "${state.kind}", expected "${kind}"`);
  const { learner, features, parameters } = state.meta;
  if (learner !== spec.name) throw new ModelStateError(spec.name, `written by learner ${JSON.stringify(learner)}`);
  if (typeof features !== "number" || !Number.isInteger(features) || features < 1) {
    throw new ModelStateError(spec.name, "meta.features is not a positive integer");
  }
  if (parameters === null || typeof parameters !== "object" || Array.isArray(parameters)) {
    throw new ModelStateError(spec.name, "meta.parameters is not an object");
  }
  return { features, parameters: resolveLearnerParameters(spec, parameters) };
}

/** Returns `state.arrays[name]` when it is a `ctor` of `length` (any length when omitted); throws {@link ModelStateError}. */
export function stateArray<T extends Float64Array | Int32Array | Uint8Array>(
  learner: LearnerName,
  state: ModelState,
  name: string,
  ctor: { new (length: number): T; readonly name: string },
  length?: number,
): T {
  const array = state.arrays[name];
  // Compare the tag, not `instanceof`: arrays that crossed a worker or vm boundary come from another realm.
  if (array === undefined || array[Symbol.toStringTag] !== ctor.name) {
    throw new ModelStateError(learner, `array "${name}" is missing or not a ${ctor.name}`);
  }
  if (length !== undefined && array.length !== length) {
    throw new ModelStateError(learner, `array "${name}" has ${array.length} values, expected ${length}`);
  }
  return array as T;
}

/** Checks the buffers handed to `predict` and returns the output buffer to fill. */
export function predictionBuffer(
  learner: LearnerName,
  features: number,
  x: Float64Array,
  rows: number,
  out: Float64Array | undefined,
): Float64Array {
  if (!Number.isInteger(rows) || rows < 0 || x.length < rows * features) {
    throw new RangeError(`${learner}: x has ${x.length} values, fewer than rows × features = ${rows} × ${features}`);
  }
  if (out === undefined) return new Float64Array(rows);
  if (out.length < rows) throw new RangeError(`${learner}: out has ${out.length} slots, fewer than rows = ${rows}`);
  return out;
}
