// Test models: tiny real .ilearner files trained with @retrain/ml's learners.
import { categoricalColumn, encodeIlearner, fitFeaturizer, frameFromColumns, learners, numericColumn } from "@retrain/ml";

/** Options of {@link trainLogisticModel}. */
export interface TrainModelOptions {
  /** Numeric feature columns `f0…f<n-1>`. Default 3. */
  readonly features?: number;
  /** True weights of the data's labels (one per feature); different weights make different models. Default: derived from `seed`. */
  readonly weights?: readonly number[];
  /** Rows of training data. Default 300. */
  readonly rows?: number;
  /** Seed of the data and the learner. Default 1. */
  readonly seed?: number;
  /** Label texts of class 0 and 1. Default `["no", "yes"]`. */
  readonly classes?: readonly [string, string];
}

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32: deterministic data for a seed.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/** Trains a Two-Class Logistic Regression on synthetic data and returns the .ilearner bytes. */
export function trainLogisticModel(options: TrainModelOptions = {}): Buffer {
  const features = options.features ?? 3;
  const rows = options.rows ?? 300;
  const seed = options.seed ?? 1;
  const next = random(seed * 7919 + 17);
  const weights = options.weights ?? Array.from({ length: features }, () => next() * 4 - 2);
  const [no, yes] = options.classes ?? ["no", "yes"];
  const columns = Array.from({ length: features }, () => new Float64Array(rows));
  const labels: string[] = [];
  for (let r = 0; r < rows; r++) {
    let z = 0;
    for (let j = 0; j < features; j++) {
      const x = next() * 2 - 1;
      (columns[j] as Float64Array)[r] = x;
      z += x * (weights[j] ?? 0);
    }
    labels.push(1 / (1 + Math.exp(-3 * z)) > next() ? yes : no);
  }
  const frame = frameFromColumns([...columns.map((values, j) => numericColumn(`f${j}`, values)), categoricalColumn("label", labels)]);
  const featurizer = fitFeaturizer(frame, { label: "label", task: "binary", positiveLabel: yes });
  const model = learners["Two-Class Logistic Regression"].fit(featurizer.trainingMatrix(frame), { l1RegularizationWeight: 0, l2RegularizationWeight: 0.01 }, { seed });
  return encodeIlearner({
    learner: model.learner,
    task: model.task,
    parameters: model.parameters,
    state: model.toState(),
    featureSchema: featurizer.schema,
    lineage: { datasetSha256: "0".repeat(64), rows, seed, trainedAt: new Date(0).toISOString(), libraryVersion: "test" },
  });
}

/** A copy of `bytes` with one byte flipped in the middle: the checksum no longer matches. */
export function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}
