import { DatasetError } from "../data/errors.js";
import type { Featurizer } from "../data/featurizer.js";
import { trustedFrame, type DataColumn, type DataFrame } from "../data/frame.js";
import type { TrainedModel } from "../model.js";

/** Options of {@link scoreModel}. */
export interface ScoreOptions {
  /** Binary: a row's Scored Label is the positive class when its probability is ≥ this. Default 0.5. */
  readonly threshold?: number;
}

/** Names of the columns Score Model appends, as in Studio (classic). */
export const SCORED_LABELS = "Scored Labels";
/** See {@link SCORED_LABELS}. */
export const SCORED_PROBABILITIES = "Scored Probabilities";

/**
 * Studio's Score Model: the input columns followed by `Scored Labels` (the class as in the data for
 * binary, the value for regression) and, for binary, `Scored Probabilities`. Rows the featurizer
 * cannot score (a missing feature under the `drop` strategy) get missing scores. Columns of the same
 * names already in the input are replaced.
 */
export function scoreModel(model: TrainedModel, featurizer: Featurizer, frame: DataFrame, options: ScoreOptions = {}): DataFrame {
  const threshold = options.threshold ?? 0.5;
  const label = featurizer.schema.label;
  if (model.task !== label.task) {
    throw new DatasetError("FeatureMismatch", `the model is a ${model.task} model; the featurizer's label is for ${label.task}`);
  }
  if (model.features !== featurizer.features) {
    throw new DatasetError("FeatureMismatch", `the model expects ${model.features} features; the featurizer makes ${featurizer.features}`);
  }
  if (!(threshold >= 0 && threshold <= 1)) throw new DatasetError("InvalidArgument", `threshold must be in [0, 1]; got ${threshold}`);
  const matrix = featurizer.transform(frame, { purpose: "score" });
  const predictions = model.predict(matrix.x, matrix.rows);
  const columns: DataColumn[] = frame.columns.filter((c) => c.name !== SCORED_LABELS && c.name !== SCORED_PROBABILITIES);

  if (label.task === "regression") {
    const values = new Float64Array(frame.rows).fill(Number.NaN);
    for (let k = 0; k < matrix.rows; k++) values[matrix.rowIndex[k] as number] = predictions[k] as number;
    columns.push({ name: SCORED_LABELS, kind: "numeric", values });
    return trustedFrame(frame.rows, columns);
  }

  const probabilities = new Float64Array(frame.rows).fill(Number.NaN);
  const classes = new Int32Array(frame.rows).fill(-1);
  for (let k = 0; k < matrix.rows; k++) {
    const row = matrix.rowIndex[k] as number;
    const p = predictions[k] as number;
    probabilities[row] = p;
    classes[row] = p >= threshold ? 1 : 0;
  }
  const classValues = label.classValues;
  if (classValues !== undefined) {
    const values = new Float64Array(frame.rows);
    for (let row = 0; row < frame.rows; row++) {
      const c = classes[row] as number;
      values[row] = c < 0 ? Number.NaN : classValues[c as 0 | 1];
    }
    columns.push({ name: SCORED_LABELS, kind: "numeric", values });
  } else {
    columns.push({ name: SCORED_LABELS, kind: "categorical", codes: classes, levels: [featurizer.classLabel(0), featurizer.classLabel(1)] });
  }
  columns.push({ name: SCORED_PROBABILITIES, kind: "numeric", values: probabilities });
  return trustedFrame(frame.rows, columns);
}
