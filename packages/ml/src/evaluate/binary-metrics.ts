import { DatasetError } from "../data/errors.js";

// Hot loops use module-level aliases: global lookups are slow inside VM contexts such as jest's.
const { log, min, max } = Math;

/** The confusion matrix at the threshold. */
export interface ConfusionCounts {
  readonly truePositive: number;
  readonly falsePositive: number;
  readonly trueNegative: number;
  readonly falseNegative: number;
}

/** Evaluate Model's results for a two-class model, named as Studio (classic) names them. */
export interface BinaryMetrics {
  readonly AUC: number;
  readonly Accuracy: number;
  readonly Precision: number;
  readonly Recall: number;
  readonly "F1 Score": number;
  readonly "Average Log Loss": number;
  readonly Threshold: number;
  /** The label text of class 1, when the caller knows it. */
  readonly "Positive Label"?: string;
  readonly counts: ConfusionCounts;
}

/** Probabilities are clipped to [ε, 1−ε] so one confident mistake costs ~34.5, not infinity. */
const LOG_LOSS_EPSILON = 1e-15;

/**
 * Two-class metrics of `probability` (of class 1) against `yTrue` (0/1). A row is predicted positive
 * when its probability is ≥ `threshold`. AUC is exact (Mann–Whitney: tied scores count one half);
 * NaN when a class is absent. Precision, recall and F1 are 0 when undefined (no predicted positives…).
 */
export function evaluateBinary(yTrue: Float64Array, probability: Float64Array, threshold = 0.5, positiveLabel?: string): BinaryMetrics {
  if (yTrue.length !== probability.length) {
    throw new DatasetError("InvalidArgument", `yTrue has ${yTrue.length} values; probability has ${probability.length}`);
  }
  if (!(threshold >= 0 && threshold <= 1)) throw new DatasetError("InvalidArgument", `threshold must be in [0, 1]; got ${threshold}`);
  const n = yTrue.length;
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let logLoss = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    const p = probability[i] as number;
    if (y !== 0 && y !== 1) throw new DatasetError("InvalidArgument", `yTrue[${i}] is ${y}; binary labels must be 0 or 1`);
    if (!(p >= 0 && p <= 1)) throw new DatasetError("InvalidArgument", `probability[${i}] is ${p}; it must be in [0, 1]`);
    const predicted = p >= threshold;
    if (y === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
    const clipped = min(max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
    logLoss -= y === 1 ? log(clipped) : log(1 - clipped);
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const metrics: BinaryMetrics = {
    AUC: auc(yTrue, probability),
    Accuracy: n === 0 ? Number.NaN : (tp + tn) / n,
    Precision: precision,
    Recall: recall,
    "F1 Score": precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    "Average Log Loss": n === 0 ? Number.NaN : logLoss / n,
    Threshold: threshold,
    counts: { truePositive: tp, falsePositive: fp, trueNegative: tn, falseNegative: fn },
  };
  return positiveLabel === undefined ? metrics : { ...metrics, "Positive Label": positiveLabel };
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting one half. Both classes' scores are sorted (native typed-array sort) and merged once.
 */
export function auc(yTrue: Float64Array, score: Float64Array): number {
  let positives = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 1) positives++;
  const negatives = yTrue.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, p = 0, q = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) pos[p++] = score[i] as number;
    else neg[q++] = score[i] as number;
  }
  pos.sort();
  neg.sort();
  // For each positive: negatives strictly below it count 1, negatives equal to it count ½.
  let wins = 0;
  let below = 0;
  let upTo = 0;
  for (let i = 0; i < positives; i++) {
    const s = pos[i] as number;
    while (below < negatives && (neg[below] as number) < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < negatives && (neg[upTo] as number) <= s) upTo++;
    wins += below + (upTo - below) / 2;
  }
  return wins / (positives * negatives);
}
