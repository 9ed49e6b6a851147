// Small scoring helpers the learners' tests and the training benchmark share (Evaluate Model proper
// lives in evaluate/). One implementation scores every side of a comparison.

/** Area under the ROC curve of `scores` for 0/1 `labels` (ties count half), via the rank-sum statistic. */
export function rocAuc(scores: Float64Array, labels: Float64Array): number {
  const n = scores.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    const s = scores[order[i] as number] as number;
    while (j + 1 < n && scores[order[j + 1] as number] === s) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k] as number] === 1) {
        rankSum += rank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Root mean squared error. */
export function rmse(predictions: Float64Array, targets: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < targets.length; i++) sum += ((predictions[i] as number) - (targets[i] as number)) ** 2;
  return Math.sqrt(sum / targets.length);
}

/** Coefficient of determination R² = 1 − SSE / SST. */
export function rSquared(predictions: Float64Array, targets: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < targets.length; i++) mean += targets[i] as number;
  mean /= targets.length;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < targets.length; i++) {
    sse += ((predictions[i] as number) - (targets[i] as number)) ** 2;
    sst += ((targets[i] as number) - mean) ** 2;
  }
  return 1 - sse / sst;
}
