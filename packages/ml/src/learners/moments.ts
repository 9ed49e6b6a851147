import type { TrainingMatrix } from "../model.js";

/**
 * Per-column mean and (population) standard deviation of a row-major matrix, in two passes so the
 * variance does not suffer the cancellation of the one-pass Σx² − n·μ² form.
 */
export function columnMoments(m: TrainingMatrix): { mean: Float64Array; std: Float64Array } {
  const { rows, features: f, x } = m;
  const mean = new Float64Array(f);
  for (let i = 0, base = 0; i < rows; i++, base += f) {
    for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) + (x[base + j] as number);
  }
  for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) / rows;
  const std = new Float64Array(f);
  for (let i = 0, base = 0; i < rows; i++, base += f) {
    for (let j = 0; j < f; j++) {
      const d = (x[base + j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + d * d;
    }
  }
  for (let j = 0; j < f; j++) std[j] = Math.sqrt((std[j] as number) / rows);
  return { mean, std };
}
