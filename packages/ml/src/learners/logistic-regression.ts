import type { ModelState, TrainedModel, TrainingMatrix } from "../model.js";
import { type DifferentiableObjective, type LbfgsResult, minimizeLbfgs } from "./lbfgs.js";
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
import { columnMoments } from "./moments.js";

const NAME = "Two-Class Logistic Regression";
// Module-level alias: a global lookup per call is slow in vm contexts (jest).
const { exp } = Math;

/**
 * Studio's Two-Class Logistic Regression parameters. With weights w, intercept b and labels y ∈ {0, 1}
 * the objective minimised is
 *
 *   Σᵢ [log(1 + exp(zᵢ)) − yᵢ·zᵢ] + l2/2 · ‖w‖² + l1 · ‖w‖₁,   zᵢ = b + xᵢ·w
 *
 * (a sum, not a mean; the intercept is not regularised), so scikit-learn's `LogisticRegression(C=1/l2)`
 * solves the same problem when l1 = 0.
 */
export type LogisticRegressionParameters = {
  /** Stop when the mean relative decrease of the objective over the last 5 iterations is below this. Default 1e-7. */
  readonly optimizationTolerance: number;
  /** l1 in the objective above; > 0 switches L-BFGS to OWL-QN and drives weak weights to exactly 0. Default 1. */
  readonly l1RegularizationWeight: number;
  /** l2 in the objective above. Default 1. */
  readonly l2RegularizationWeight: number;
  /** L-BFGS memory: correction pairs kept. Default 20. */
  readonly memorySize: number;
};

const defaults: LogisticRegressionParameters = {
  optimizationTolerance: 1e-7,
  l1RegularizationWeight: 1,
  l2RegularizationWeight: 1,
  memorySize: 20,
};

const parameters = {
  optimizationTolerance: {
    kind: "number",
    min: 0,
    max: 1,
    minExclusive: true,
    description: "Convergence tolerance: mean relative objective decrease over 5 iterations.",
  },
  l1RegularizationWeight: { kind: "number", min: 0, max: 1e12, description: "L1 weight (OWL-QN when > 0)." },
  l2RegularizationWeight: { kind: "number", min: 0, max: 1e12, description: "L2 weight (l2/2·‖w‖²)." },
  memorySize: { kind: "integer", min: 1, max: 1000, description: "L-BFGS memory size." },
} as const;

/** Iteration cap; far above what a well-posed problem needs (tens of iterations), it only stops runaways. */
const MAX_ITERATIONS = 10_000;

/** A fitted logistic regression: P(y = 1 | x) = σ(b + x·w). */
export class LogisticRegressionModel implements TrainedModel {
  readonly learner = NAME;
  readonly task = "binary";
  readonly features: number;

  constructor(
    readonly parameters: LogisticRegressionParameters,
    /** w, one weight per feature, on the original (unstandardised) feature scale. */
    readonly weights: Float64Array,
    /** b. */
    readonly intercept: number,
  ) {
    this.features = weights.length;
  }

  predict(x: Float64Array, rows: number, out?: Float64Array): Float64Array {
    const result = linearScores(NAME, this.weights, this.intercept, x, rows, out);
    for (let i = 0; i < rows; i++) result[i] = 1 / (1 + exp(-(result[i] as number)));
    return result;
  }

  toState(): ModelState {
    return linearState("logistic", this);
  }
}

/** Rows per chunk of the gradient sweep: small enough to balance two threads, large enough to amortise a claim. */
const CHUNK_ROWS = 16_384;
/** Rows whose margins are computed before their losses: keeps the arithmetic loops free of Math calls. */
const BLOCK_ROWS = 256;
/** Below this many matrix cells the sweep runs on one thread (a helper costs ~25 ms to start). */
const PARALLEL_MIN_CELLS = 2_000_000;

/** Shared buffers of the logistic sweep. */
type LogisticViews = {
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Per chunk: [loss, Σr, Σ r·x₀ … Σ r·x_{f−1}]. */
  readonly partials: Float64Array;
  /** Per chunk: BLOCK_ROWS margins / residuals. */
  readonly scratch: Float64Array;
};

/**
 * One chunk of the fused sweep: margins zᵢ = b + xᵢ·w, loss Σ softplus(zᵢ) − yᵢzᵢ, residuals
 * rᵢ = σ(zᵢ) − yᵢ and Σ rᵢ·xᵢ. `args` = [rows, features, chunkRows, blockRows, b, w₀ … w_{f−1}].
 * Self-contained: helper threads rebuild it from its source.
 */
function logisticChunk(chunk: number, v: LogisticViews, args: Float64Array): void {
  // Local aliases: a global lookup per use is slow in vm contexts (jest).
  const { exp, log1p, min } = Math;
  const x = v.x;
  const y = v.y;
  const rows = args[0] as number;
  const f = args[1] as number;
  const chunkRows = args[2] as number;
  const blockRows = args[3] as number;
  const b = args[4] as number;
  const f4 = f & ~3;
  const out = chunk * (f + 2);
  const part = v.partials;
  const zb = v.scratch;
  const zOff = chunk * blockRows;
  for (let j = 0; j < f + 2; j++) part[out + j] = 0;
  const g0 = out + 2;
  let loss = 0;
  let sumR = 0;
  const first = chunk * chunkRows;
  const last = min(rows, first + chunkRows);
  for (let i0 = first; i0 < last; i0 += blockRows) {
    const n = min(blockRows, last - i0);
    // Margins, four accumulators per row so the adds are not one long dependency chain.
    for (let k = 0, base = i0 * f; k < n; k++, base += f) {
      let z0 = b;
      let z1 = 0;
      let z2 = 0;
      let z3 = 0;
      let j = 0;
      for (; j < f4; j += 4) {
        z0 += (x[base + j] as number) * (args[5 + j] as number);
        z1 += (x[base + j + 1] as number) * (args[6 + j] as number);
        z2 += (x[base + j + 2] as number) * (args[7 + j] as number);
        z3 += (x[base + j + 3] as number) * (args[8 + j] as number);
      }
      for (; j < f; j++) z0 += (x[base + j] as number) * (args[5 + j] as number);
      zb[zOff + k] = z0 + z1 + (z2 + z3);
    }
    // Loss and residuals: softplus(z) = max(z, 0) + log1p(exp(−|z|)) never overflows.
    for (let k = 0; k < n; k++) {
      const z = zb[zOff + k] as number;
      const yi = y[i0 + k] as number;
      const e = exp(z < 0 ? z : -z);
      loss += (z > 0 ? z : 0) + log1p(e) - yi * z;
      const r = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yi;
      sumR += r;
      zb[zOff + k] = r;
    }
    // Gradient: the block's rows are still in cache.
    for (let k = 0, base = i0 * f; k < n; k++, base += f) {
      const r = zb[zOff + k] as number;
      let j = 0;
      for (; j < f4; j += 4) {
        part[g0 + j] = (part[g0 + j] as number) + r * (x[base + j] as number);
        part[g0 + j + 1] = (part[g0 + j + 1] as number) + r * (x[base + j + 1] as number);
        part[g0 + j + 2] = (part[g0 + j + 2] as number) + r * (x[base + j + 2] as number);
        part[g0 + j + 3] = (part[g0 + j + 3] as number) + r * (x[base + j + 3] as number);
      }
      for (; j < f; j++) part[g0 + j] = (part[g0 + j] as number) + r * (x[base + j] as number);
    }
  }
  part[out] = loss;
  part[out + 1] = sumR;
}

/**
 * The objective above, reparameterised on standardised features: θ = (v, c) with wⱼ = vⱼ/σⱼ and
 * zᵢ = c + Σⱼ (xᵢⱼ − μⱼ)·wⱼ. The minimiser is the same; the Hessian is far better conditioned, so
 * L-BFGS needs fewer sweeps — and the data is never copied: the sweep runs on raw X with the intercept
 * b = c − μ·w, and the centering is applied to the summed gradient. One evaluation = one fused pass.
 */
class LogisticObjective implements DifferentiableObjective {
  readonly dimension: number;
  private readonly chunks: number;
  private readonly pool: ParallelChunks<LogisticViews>;
  private readonly w: Float64Array;
  private readonly gx: Float64Array;
  private readonly partials: Float64Array;

  constructor(
    private readonly m: TrainingMatrix,
    private readonly mean: Float64Array,
    private readonly scale: Float64Array,
    private readonly l2: number,
    threads: number,
  ) {
    const f = m.features;
    this.dimension = f + 1;
    this.chunks = Math.ceil(m.rows / CHUNK_ROWS);
    this.w = new Float64Array(f);
    this.gx = new Float64Array(f);
    const parallel = threads > 1 && m.rows * f >= PARALLEL_MIN_CELLS && this.chunks > 1;
    const alloc = (length: number): Float64Array =>
      new Float64Array(parallel ? new SharedArrayBuffer(length * 8) : new ArrayBuffer(length * 8));
    const views: LogisticViews = {
      x: parallel ? sharedCopy(m.x) : m.x,
      y: parallel ? sharedCopy(m.y) : m.y,
      partials: alloc(this.chunks * (f + 2)),
      scratch: alloc(this.chunks * BLOCK_ROWS),
    };
    this.pool = new ParallelChunks(logisticChunk, views, {
      threads: parallel ? threads : 1,
      argsLength: 5 + f,
      maxChunks: this.chunks,
    });
    this.partials = views.partials;
  }

  evaluate(theta: Float64Array, gradient: Float64Array): number {
    const { rows, features: f } = this.m;
    const { w, gx, mean, scale, l2, partials } = this;
    const args = this.pool.args;
    let penalty = 0;
    let b = theta[f] as number;
    for (let j = 0; j < f; j++) {
      const wj = (theta[j] as number) / (scale[j] as number);
      w[j] = wj;
      penalty += wj * wj;
      b -= (mean[j] as number) * wj;
      args[5 + j] = wj;
    }
    args[0] = rows;
    args[1] = f;
    args[2] = CHUNK_ROWS;
    args[3] = BLOCK_ROWS;
    args[4] = b;
    this.pool.run(this.chunks);
    // Reduce the chunks in order, so the sum does not depend on which thread ran what.
    let loss = 0;
    let sumR = 0;
    gx.fill(0);
    for (let c = 0; c < this.chunks; c++) {
      const o = c * (f + 2);
      loss += partials[o] as number;
      sumR += partials[o + 1] as number;
      for (let j = 0; j < f; j++) gx[j] = (gx[j] as number) + (partials[o + 2 + j] as number);
    }
    for (let j = 0; j < f; j++) {
      // ∂/∂vⱼ = (Σ rᵢ(xᵢⱼ − μⱼ) + l2·wⱼ) / σⱼ
      gradient[j] = ((gx[j] as number) - (mean[j] as number) * sumR + l2 * (w[j] as number)) / (scale[j] as number);
    }
    gradient[f] = sumR;
    return loss + 0.5 * l2 * penalty;
  }

  /** Stops the helper threads. */
  close(): void {
    this.pool.close();
  }
}

function fit(m: TrainingMatrix, given: Partial<LogisticRegressionParameters>, options: FitOptions): LogisticRegressionModel {
  const p = resolveLearnerParameters(logisticRegression, given);
  checkTrainingMatrix(NAME, "binary", m);
  throwIfAborted(NAME, options.signal);
  const f = m.features;
  const { mean, std } = columnMoments(m);
  const scale = std.map((s) => (s > 0 ? s : 1));
  const objective = new LogisticObjective(m, mean, scale, p.l2RegularizationWeight, options.threads ?? defaultThreads());

  // Start from the prior: w = 0, intercept = logit(mean y).
  let positives = 0;
  for (let i = 0; i < m.rows; i++) positives += m.y[i] as number;
  const theta0 = new Float64Array(f + 1);
  theta0[f] = Math.log(positives / (m.rows - positives));

  const l1 = new Float64Array(f + 1);
  for (let j = 0; j < f; j++) l1[j] = p.l1RegularizationWeight / (scale[j] as number);

  let result: LbfgsResult;
  try {
    result = minimizeLbfgs(objective, theta0, {
      memory: p.memorySize,
      tolerance: p.optimizationTolerance,
      maxIterations: MAX_ITERATIONS,
      l1,
      onIteration: (iteration) => {
        throwIfAborted(NAME, options.signal);
        // The iteration count is not known ahead; report a fraction that approaches 1 (capped below it).
        options.onProgress?.(Math.min(0.99, iteration / (iteration + 20)));
      },
    });
  } finally {
    objective.close();
  }
  const weights = new Float64Array(f);
  let intercept = result.x[f] as number;
  for (let j = 0; j < f; j++) {
    const wj = (result.x[j] as number) / (scale[j] as number);
    weights[j] = wj;
    intercept -= (mean[j] as number) * wj;
  }
  options.onProgress?.(1);
  return new LogisticRegressionModel(p, weights, intercept);
}

function fromState(state: ModelState): LogisticRegressionModel {
  const { features, parameters: p } = readStateMeta(logisticRegression, "logistic", state);
  const weights = stateArray(NAME, state, "weights", Float64Array, features);
  const intercept = stateArray(NAME, state, "intercept", Float64Array, 1)[0] as number;
  return new LogisticRegressionModel(p, Float64Array.from(weights), intercept);
}

/** Two-Class Logistic Regression: L-BFGS with L2, OWL-QN when L1 > 0. */
export const logisticRegression: LearnerSpec<LogisticRegressionParameters> = {
  name: NAME,
  task: "binary",
  defaults,
  parameters,
  fit,
  fromState,
};
