import type { ModelState, TrainedModel, TrainingMatrix } from "../model.js";
import { type DifferentiableObjective, minimizeLbfgs } from "./lbfgs.js";
import {
  checkTrainingMatrix,
  type FitOptions,
  type LearnerSpec,
  predictionBuffer,
  readStateMeta,
  resolveLearnerParameters,
  stateArray,
  stateMeta,
  throwIfAborted,
} from "./spec.js";
import { columnMoments } from "./moments.js";

const NAME = "Two-Class Logistic Regression";

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
    const result = predictionBuffer(NAME, this.features, x, rows, out);
    const w = this.weights;
    const f = this.features;
    for (let i = 0, base = 0; i < rows; i++, base += f) {
      let z = this.intercept;
      for (let j = 0; j < f; j++) z += (x[base + j] as number) * (w[j] as number);
      result[i] = 1 / (1 + Math.exp(-z));
    }
    return result;
  }

  toState(): ModelState {
    return {
      kind: "logistic",
      meta: stateMeta(this),
      arrays: { weights: Float64Array.from(this.weights), intercept: Float64Array.of(this.intercept) },
    };
  }
}

/**
 * The objective above, reparameterised on standardised features: θ = (v, c) with wⱼ = vⱼ/σⱼ and
 * zᵢ = c + Σⱼ (xᵢⱼ − μⱼ)·wⱼ. The minimiser is the same; the Hessian is far better conditioned, so
 * L-BFGS needs fewer sweeps. Centering inside the sweep also avoids the cancellation b + x·w would suffer
 * on features with a large mean. One evaluation = one fused pass over X (margins, loss and gradient).
 */
class LogisticObjective implements DifferentiableObjective {
  readonly dimension: number;
  private readonly w: Float64Array;
  private readonly gx: Float64Array;
  private readonly centered: Float64Array;

  constructor(
    private readonly m: TrainingMatrix,
    private readonly mean: Float64Array,
    private readonly scale: Float64Array,
    private readonly l2: number,
  ) {
    this.dimension = m.features + 1;
    this.w = new Float64Array(m.features);
    this.gx = new Float64Array(m.features);
    this.centered = new Float64Array(m.features);
  }

  evaluate(theta: Float64Array, gradient: Float64Array): number {
    const { rows, features: f, x, y } = this.m;
    const { w, gx, centered: d, mean, scale, l2 } = this;
    let penalty = 0;
    for (let j = 0; j < f; j++) {
      const wj = (theta[j] as number) / (scale[j] as number);
      w[j] = wj;
      penalty += wj * wj;
    }
    gx.fill(0);
    const c = theta[f] as number;
    let loss = 0;
    let sumR = 0;
    for (let i = 0, base = 0; i < rows; i++, base += f) {
      let z = c;
      for (let j = 0; j < f; j++) {
        const dj = (x[base + j] as number) - (mean[j] as number);
        d[j] = dj;
        z += dj * (w[j] as number);
      }
      const e = Math.exp(-Math.abs(z));
      const yi = y[i] as number;
      // softplus(z) − y·z, with softplus(z) = max(z, 0) + log1p(exp(−|z|)) (no overflow for any z).
      loss += (z > 0 ? z : 0) + Math.log1p(e) - yi * z;
      const r = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yi;
      sumR += r;
      for (let j = 0; j < f; j++) gx[j] = (gx[j] as number) + r * (d[j] as number);
    }
    for (let j = 0; j < f; j++) {
      const sj = scale[j] as number;
      gradient[j] = ((gx[j] as number) + l2 * (w[j] as number)) / sj;
    }
    gradient[f] = sumR;
    return loss + 0.5 * l2 * penalty;
  }
}

function fit(m: TrainingMatrix, given: Partial<LogisticRegressionParameters>, options: FitOptions): LogisticRegressionModel {
  const p = resolveLearnerParameters(logisticRegression, given);
  checkTrainingMatrix(NAME, "binary", m);
  throwIfAborted(NAME, options.signal);
  const f = m.features;
  const { mean, std } = columnMoments(m);
  const scale = std.map((s) => (s > 0 ? s : 1));
  const objective = new LogisticObjective(m, mean, scale, p.l2RegularizationWeight);

  // Start from the prior: w = 0, intercept = logit(mean y).
  let positives = 0;
  for (let i = 0; i < m.rows; i++) positives += m.y[i] as number;
  const theta0 = new Float64Array(f + 1);
  theta0[f] = Math.log(positives / (m.rows - positives));

  const l1 = new Float64Array(f + 1);
  for (let j = 0; j < f; j++) l1[j] = p.l1RegularizationWeight / (scale[j] as number);

  const result = minimizeLbfgs(objective, theta0, {
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
