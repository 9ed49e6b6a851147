import type { LearnerName, ModelState, TrainedModel } from "../model.js";
import { predictionBuffer, stateMeta } from "./spec.js";

/** b + x·w for each of `rows` rows of the row-major `x`, into `out` (shared by the two linear learners). */
export function linearScores(learner: LearnerName, weights: Float64Array, intercept: number, x: Float64Array, rows: number, out?: Float64Array): Float64Array {
  const f = weights.length;
  const result = predictionBuffer(learner, f, x, rows, out);
  for (let i = 0, base = 0; i < rows; i++, base += f) {
    let z = intercept;
    for (let j = 0; j < f; j++) z += (x[base + j] as number) * (weights[j] as number);
    result[i] = z;
  }
  return result;
}

/** The stored state of a weights-and-intercept model. */
export function linearState(kind: "linear" | "logistic", model: TrainedModel & { readonly weights: Float64Array; readonly intercept: number }): ModelState {
  return { kind, meta: stateMeta(model), arrays: { weights: Float64Array.from(model.weights), intercept: Float64Array.of(model.intercept) } };
}
