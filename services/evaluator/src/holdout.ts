// Scoring one model on the run's holdout rows: the same code for the challenger and every champion,
// so their metrics compare like with like.
import type { Metrics } from "@retrain/contracts";
import { decodeIlearner, evaluateBinary, evaluateRegression, featurizerFromSchema, modelFromState, type DataFrame } from "@retrain/ml";

/** A model that cannot be scored on the holdout (unreadable, or its feature schema does not fit the rows). */
export class HoldoutScoringError extends Error {
  override readonly name = "HoldoutScoringError";
  constructor(
    message: string,
    /** Whose model: `challenger` or a target key. */
    readonly model: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Decodes an `.ilearner`, rebuilds its featurizer and model, featurizes the holdout frame (label
 * included), predicts, and computes Evaluate Model's metrics. Only finite metrics are returned (an
 * AUC is NaN when the holdout has one class).
 */
export function scoreOnHoldout(modelBytes: Uint8Array, holdout: DataFrame, whose: string): Metrics {
  let evaluated: object;
  try {
    const file = decodeIlearner(modelBytes);
    const featurizer = featurizerFromSchema(file.featureSchema);
    const model = modelFromState(file.state);
    const matrix = featurizer.trainingMatrix(holdout);
    const predictions = model.predict(matrix.x, matrix.rows);
    evaluated = file.task === "binary" ? evaluateBinary(matrix.y, predictions, 0.5, featurizer.classLabel(1)) : evaluateRegression(matrix.y, predictions);
  } catch (error) {
    throw new HoldoutScoringError(`the model of ${whose} cannot be scored on the holdout rows: ${(error as Error).message}`, whose, { cause: error });
  }
  const metrics: Metrics = {};
  for (const [name, value] of Object.entries(evaluated)) {
    if (typeof value === "number" && Number.isFinite(value)) metrics[name] = value;
  }
  return metrics;
}
