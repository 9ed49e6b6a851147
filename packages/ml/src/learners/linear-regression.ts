import type { ModelState, TrainedModel, TrainingMatrix } from "../model.js";
import { solveSymmetric } from "./cholesky.js";
import { defaultThreads, ParallelChunks, sharedCopy } from "./parallel.js";
import { linearScores, linearState } from "./linear-model.js";
import {
  checkTrainingMatrix,
  type FitOptions,
  type LearnerSpec,
  readStateMeta,
  resolveLearnerParameters,
  stateArray,
  throwIfAborted,
} from "./spec.js";

const NAME = "Linear Regression";

/**
 * Studio's Linear Regression ("Ordinary least squares" solution method). With weights w and intercept b
 * it minimises
 *
 *   Σᵢ ½(yᵢ − b − xᵢ·w)² + l2/2 · ‖w‖²
 *
 * (the intercept is not regularised) by solving the normal equations (XcᵀXc + l2·I)·w = Xcᵀyc on centred
 * data with Cholesky — scikit-learn's `Ridge(alpha=l2)`, and `LinearRegression` when l2 = 0.
 */
export type LinearRegressionParameters = {
  /** l2 in the objective above. Default 0.001. */
  readonly l2RegularizationWeight: number;
  /** Fit b (else b = 0 and nothing is centred). Default true. */
  readonly includeIntercept: boolean;
};

const defaults: LinearRegressionParameters = { l2RegularizationWeight: 0.001, includeIntercept: true };

const parameters = {
  l2RegularizationWeight: { kind: "number", min: 0, max: 1e12, description: "L2 weight (l2/2·‖w‖²)." },
  includeIntercept: { kind: "boolean", description: "Fit an intercept term." },
} as const;

/** A fitted linear model: ŷ = b + x·w. */
export class LinearRegressionModel implements TrainedModel {
  readonly learner = NAME;
  readonly task = "regression";
  readonly features: number;

  constructor(
    readonly parameters: LinearRegressionParameters,
    /** w, one weight per feature. */
    readonly weights: Float64Array,
    /** b (0 when the intercept is not included). */
    readonly intercept: number,
  ) {
    this.features = weights.length;
  }

  predict(x: Float64Array, rows: number, out?: Float64Array): Float64Array {
    return linearScores(NAME, this.weights, this.intercept, x, rows, out);
  }

  toState(): ModelState {
    return linearState("linear", this);
  }
}

/** Rows per chunk of the Gram sweep. */
const CHUNK_ROWS = 32_768;
/** Below this many matrix cells the sweep runs on one thread. */
const PARALLEL_MIN_CELLS = 2_000_000;

/** Shared buffers of the Gram sweep. */
type GramViews = {
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Per chunk: f×f Gram (upper triangle), then f values of Σ d·(y − ȳ), then Σ (y − ȳ)². */
  readonly partials: Float64Array;
  /** Per chunk: 4 centred rows. */
  readonly scratch: Float64Array;
};

/**
 * One chunk of the Gram sweep: Σ dᵢdᵢᵀ and Σ dᵢ·(yᵢ − ȳ) with dᵢ = xᵢ − x̄, four rows at a time so each
 * Gram cell is loaded and stored once per four rows. `args` = [rows, f, chunkRows, ȳ, x̄₀ … x̄_{f−1}].
 * Self-contained: helper threads rebuild it from its source.
 */
function gramChunk(chunk: number, v: GramViews, args: Float64Array): void {
  const min = Math.min;
  const x = v.x;
  const y = v.y;
  const rows = args[0] as number;
  const f = args[1] as number;
  const chunkRows = args[2] as number;
  const yMean = args[3] as number;
  const gram = v.partials;
  const d = v.scratch;
  const stride = f * f + f + 1;
  const out = chunk * stride;
  const cy = out + f * f;
  const dOff = chunk * 4 * f;
  for (let k = 0; k < stride; k++) gram[out + k] = 0;
  const first = chunk * chunkRows;
  const last = min(rows, first + chunkRows);
  let i = first;
  for (; i + 3 < last; i += 4) {
    let base = i * f;
    for (let r = 0; r < 4; r++, base += f) {
      for (let j = 0; j < f; j++) d[dOff + r * f + j] = (x[base + j] as number) - (args[4 + j] as number);
    }
    const y0 = (y[i] as number) - yMean;
    const y1 = (y[i + 1] as number) - yMean;
    const y2 = (y[i + 2] as number) - yMean;
    const y3 = (y[i + 3] as number) - yMean;
    gram[cy + f] = (gram[cy + f] as number) + (y0 * y0 + y1 * y1 + (y2 * y2 + y3 * y3));
    for (let j = 0; j < f; j++) {
      const a0 = d[dOff + j] as number;
      const a1 = d[dOff + f + j] as number;
      const a2 = d[dOff + 2 * f + j] as number;
      const a3 = d[dOff + 3 * f + j] as number;
      gram[cy + j] = (gram[cy + j] as number) + (a0 * y0 + a1 * y1 + (a2 * y2 + a3 * y3));
      const row = out + j * f;
      for (let k = j; k < f; k++) {
        gram[row + k] =
          (gram[row + k] as number) +
          (a0 * (d[dOff + k] as number) +
            a1 * (d[dOff + f + k] as number) +
            (a2 * (d[dOff + 2 * f + k] as number) + a3 * (d[dOff + 3 * f + k] as number)));
      }
    }
  }
  for (; i < last; i++) {
    const base = i * f;
    for (let j = 0; j < f; j++) d[dOff + j] = (x[base + j] as number) - (args[4 + j] as number);
    const yc = (y[i] as number) - yMean;
    gram[cy + f] = (gram[cy + f] as number) + yc * yc;
    for (let j = 0; j < f; j++) {
      const a = d[dOff + j] as number;
      gram[cy + j] = (gram[cy + j] as number) + a * yc;
      const row = out + j * f;
      for (let k = j; k < f; k++) gram[row + k] = (gram[row + k] as number) + a * (d[dOff + k] as number);
    }
  }
}

function fit(m: TrainingMatrix, given: Partial<LinearRegressionParameters>, options: FitOptions): LinearRegressionModel {
  const p = resolveLearnerParameters(linearRegression, given);
  checkTrainingMatrix(NAME, "regression", m);
  throwIfAborted(NAME, options.signal);
  const { rows, features: f, x, y } = m;

  // Pass 1: means (zero when there is no intercept: then the "centred" Gram is the raw XᵀX).
  const args = new Float64Array(4 + f);
  if (p.includeIntercept) {
    let yMean = 0;
    for (let i = 0, base = 0; i < rows; i++, base += f) {
      yMean += y[i] as number;
      for (let j = 0; j < f; j++) args[4 + j] = (args[4 + j] as number) + (x[base + j] as number);
    }
    for (let j = 0; j < f; j++) args[4 + j] = (args[4 + j] as number) / rows;
    args[3] = yMean / rows;
  }
  throwIfAborted(NAME, options.signal);
  options.onProgress?.(0.1);

  // Pass 2: the Gram matrix, chunk by chunk, reduced in chunk order (same result on any thread count).
  const chunks = Math.ceil(rows / CHUNK_ROWS);
  const stride = f * f + f + 1;
  const threads = options.threads ?? defaultThreads();
  const parallel = threads > 1 && chunks > 1 && rows * f >= PARALLEL_MIN_CELLS;
  const alloc = (length: number): Float64Array =>
    new Float64Array(parallel ? new SharedArrayBuffer(length * 8) : new ArrayBuffer(length * 8));
  const views: GramViews = {
    x: parallel ? sharedCopy(x) : x,
    y: parallel ? sharedCopy(y) : y,
    partials: alloc(chunks * stride),
    scratch: alloc(chunks * 4 * f),
  };
  const pool = new ParallelChunks(gramChunk, views, { threads: parallel ? threads : 1, argsLength: args.length, maxChunks: chunks });
  try {
    pool.args.set(args);
    pool.args[0] = rows;
    pool.args[1] = f;
    pool.args[2] = CHUNK_ROWS;
    pool.run(chunks);
  } finally {
    pool.close();
  }
  throwIfAborted(NAME, options.signal);
  options.onProgress?.(0.9);
  const gram = new Float64Array(f * f);
  const xty = new Float64Array(f);
  for (let c = 0; c < chunks; c++) {
    const o = c * stride;
    for (let k = 0; k < f * f; k++) gram[k] = (gram[k] as number) + (views.partials[o + k] as number);
    for (let j = 0; j < f; j++) xty[j] = (xty[j] as number) + (views.partials[o + f * f + j] as number);
  }
  for (let j = 0; j < f; j++) gram[j * f + j] = (gram[j * f + j] as number) + p.l2RegularizationWeight;

  const { x: weights } = solveSymmetric(gram, xty, f);
  let intercept = 0;
  if (p.includeIntercept) {
    intercept = args[3] as number;
    for (let j = 0; j < f; j++) intercept -= (args[4 + j] as number) * (weights[j] as number);
  }
  options.onProgress?.(1);
  return new LinearRegressionModel(p, weights, intercept);
}

function fromState(state: ModelState): LinearRegressionModel {
  const { features, parameters: p } = readStateMeta(linearRegression, "linear", state);
  const weights = stateArray(NAME, state, "weights", Float64Array, features);
  const intercept = stateArray(NAME, state, "intercept", Float64Array, 1)[0] as number;
  return new LinearRegressionModel(p, Float64Array.from(weights), intercept);
}

/** Linear Regression by ordinary least squares (normal equations, Cholesky), optional L2. */
export const linearRegression: LearnerSpec<LinearRegressionParameters> = {
  name: NAME,
  task: "regression",
  defaults,
  parameters,
  fit,
  fromState,
};
