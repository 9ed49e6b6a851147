// Seeded synthetic datasets with known structure, for tests and benchmarks (the way scikit-learn's
// make_classification / make_regression are used): a learner must recover what generated them.
import type { TrainingMatrix } from "../model.js";
import { SeededRandom } from "./random.js";

// Module-level aliases: a global lookup per call is slow in vm contexts (jest).
const { cos, exp, log, PI, sin, sqrt } = Math;

/** Standard normal draws (Box–Muller) from a seeded stream. */
export class GaussianSource {
  private readonly random: SeededRandom;
  private spare: number | undefined;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  /** One N(0, 1) draw. */
  next(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u = 1 - this.random.next();
    const r = sqrt(-2 * log(u));
    const t = 2 * PI * this.random.next();
    this.spare = r * sin(t);
    return r * cos(t);
  }

  /** A uniform draw in [0, 1). */
  uniform(): number {
    return this.random.next();
  }
}

/** Rows of independent N(0, 1) features, row-major. */
export function gaussianFeatures(rows: number, features: number, source: GaussianSource): Float64Array {
  const x = new Float64Array(rows * features);
  for (let k = 0; k < x.length; k++) x[k] = source.next();
  return x;
}

/** Labels y ~ Bernoulli(σ(intercept + x·weights)) over Gaussian features: logistic regression's own model. */
export function makeLogistic(rows: number, weights: readonly number[], intercept: number, seed: number): TrainingMatrix {
  const source = new GaussianSource(seed);
  const f = weights.length;
  const x = gaussianFeatures(rows, f, source);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = intercept;
    for (let j = 0; j < f; j++) z += (x[i * f + j] as number) * (weights[j] as number);
    y[i] = source.uniform() < 1 / (1 + exp(-z)) ? 1 : 0;
  }
  return { rows, features: f, x, y };
}

/** y = intercept + x·weights + N(0, noise²) over Gaussian features. */
export function makeLinear(rows: number, weights: readonly number[], intercept: number, noise: number, seed: number): TrainingMatrix {
  const source = new GaussianSource(seed);
  const f = weights.length;
  const x = gaussianFeatures(rows, f, source);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = intercept;
    for (let j = 0; j < f; j++) z += (x[i * f + j] as number) * (weights[j] as number);
    y[i] = z + noise * source.next();
  }
  return { rows, features: f, x, y };
}

/**
 * An XOR-like binary target no linear model can fit: y = 1 when x₀·x₁ > 0 (labels flipped with
 * probability `flip`), plus `features − 2` irrelevant Gaussian columns.
 */
export function makeXor(rows: number, features: number, flip: number, seed: number): TrainingMatrix {
  const source = new GaussianSource(seed);
  const x = gaussianFeatures(rows, features, source);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const positive = (x[i * features] as number) * (x[i * features + 1] as number) > 0;
    y[i] = positive !== source.uniform() < flip ? 1 : 0;
  }
  return { rows, features, x, y };
}

/** A non-linear regression target: y = sin(2·x₀) + x₁² + N(0, noise²), plus irrelevant columns. */
export function makeSineSquare(rows: number, features: number, noise: number, seed: number): TrainingMatrix {
  const source = new GaussianSource(seed);
  const x = gaussianFeatures(rows, features, source);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const x0 = x[i * features] as number;
    const x1 = x[i * features + 1] as number;
    y[i] = sin(2 * x0) + x1 * x1 + noise * source.next();
  }
  return { rows, features, x, y };
}
