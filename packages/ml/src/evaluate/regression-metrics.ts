import { DatasetError } from "../data/errors.js";

// Hot loops use module-level aliases: global lookups are slow inside VM contexts such as jest's.
const { abs } = Math;
const isFiniteNumber = Number.isFinite;

/** Evaluate Model's results for a regression model, named as Studio (classic) names them. */
export interface RegressionMetrics {
  readonly "Mean Absolute Error": number;
  readonly "Root Mean Squared Error": number;
  /** Σ|y − ŷ| / Σ|y − ȳ|. */
  readonly "Relative Absolute Error": number;
  /** Σ(y − ŷ)² / Σ(y − ȳ)². */
  readonly "Relative Squared Error": number;
  /** 1 − Relative Squared Error. */
  readonly "Coefficient of Determination": number;
}

/**
 * Regression metrics with Studio's definitions. The relative errors and R² are NaN when every `yTrue`
 * is the same (their denominator is 0); everything is NaN for no rows.
 */
export function evaluateRegression(yTrue: Float64Array, yPred: Float64Array): RegressionMetrics {
  if (yTrue.length !== yPred.length) {
    throw new DatasetError("InvalidArgument", `yTrue has ${yTrue.length} values; yPred has ${yPred.length}`);
  }
  const n = yTrue.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    const p = yPred[i] as number;
    if (!isFiniteNumber(y)) throw new DatasetError("InvalidArgument", `yTrue[${i}] is ${y}; it must be a finite number`);
    if (!isFiniteNumber(p)) throw new DatasetError("InvalidArgument", `yPred[${i}] is ${p}; it must be a finite number`);
    sum += y;
  }
  const mean = sum / n;
  let absError = 0;
  let squaredError = 0;
  let absDeviation = 0;
  let squaredDeviation = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    const error = y - (yPred[i] as number);
    absError += abs(error);
    squaredError += error * error;
    absDeviation += abs(y - mean);
    squaredDeviation += (y - mean) * (y - mean);
  }
  const rse = squaredDeviation === 0 ? Number.NaN : squaredError / squaredDeviation;
  return {
    "Mean Absolute Error": absError / n,
    "Root Mean Squared Error": Math.sqrt(squaredError / n),
    "Relative Absolute Error": absDeviation === 0 ? Number.NaN : absError / absDeviation,
    "Relative Squared Error": rse,
    "Coefficient of Determination": 1 - rse,
  };
}
