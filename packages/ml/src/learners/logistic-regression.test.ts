import { LearnerParameterError, TrainingAbortedError, TrainingDataError } from "./errors.js";
import { logisticRegression, type LogisticRegressionModel } from "./logistic-regression.js";
import { rocAuc } from "./metrics.js";
import { makeLogistic, makeXor } from "./synthetic.js";

const weights = [1.5, -2, 0.5, 0, 1];
const intercept = -0.7;
const data = makeLogistic(100_000, weights, intercept, 11);

describe("Two-Class Logistic Regression", () => {
  it("recovers known coefficients and intercept within 0.05 (tiny L2, no L1)", () => {
    const model = logisticRegression.fit(data, { l1RegularizationWeight: 0, l2RegularizationWeight: 1e-3 }, { seed: 1 }) as LogisticRegressionModel;
    weights.forEach((w, j) => expect(Math.abs((model.weights[j] as number) - w)).toBeLessThan(0.05));
    expect(Math.abs(model.intercept - intercept)).toBeLessThan(0.05);
  });

  it("recovers the same coefficients with OWL-QN at Studio's default L1 = L2 = 1", () => {
    const model = logisticRegression.fit(data, {}, { seed: 1 }) as LogisticRegressionModel;
    weights.forEach((w, j) => expect(Math.abs((model.weights[j] as number) - w)).toBeLessThan(0.05));
    expect(Math.abs(model.intercept - intercept)).toBeLessThan(0.05);
  });

  it("drives irrelevant coefficients to exactly zero with a strong L1", () => {
    // 4 informative features, 4 pure noise features.
    const m = makeLogistic(50_000, [1, -1, 0.8, -0.6, 0, 0, 0, 0], 0.2, 5);
    const model = logisticRegression.fit(m, { l1RegularizationWeight: 500, l2RegularizationWeight: 0 }, { seed: 1 }) as LogisticRegressionModel;
    for (let j = 4; j < 8; j++) expect(model.weights[j]).toBe(0);
    for (let j = 0; j < 4; j++) expect(Math.abs(model.weights[j] as number)).toBeGreaterThan(0.3);
  });

  it("works on features with a large offset and scale (internal standardisation)", () => {
    const m = makeLogistic(20_000, [1, -1], 0.5, 3);
    const shifted = Float64Array.from(m.x, (v, k) => (k % 2 === 0 ? 1e4 + 100 * v : v));
    const model = logisticRegression.fit({ ...m, x: shifted }, { l1RegularizationWeight: 0, l2RegularizationWeight: 1e-6 }, { seed: 1 }) as LogisticRegressionModel;
    expect(Math.abs((model.weights[0] as number) * 100 - 1)).toBeLessThan(0.1);
    expect(Math.abs((model.weights[1] as number) + 1)).toBeLessThan(0.1);
  });

  it("is deterministic, independent of the thread count, and round-trips its state bit for bit", () => {
    const wide = makeLogistic(120_000, Array.from({ length: 20 }, (_, j) => (j % 3) - 1), 0.1, 8);
    const a = logisticRegression.fit(wide, {}, { seed: 3, threads: 1 });
    const b = logisticRegression.fit(wide, {}, { seed: 3, threads: 2 });
    const pa = a.predict(wide.x, wide.rows);
    expect(b.predict(wide.x, wide.rows)).toEqual(pa);
    const restored = logisticRegression.fromState(a.toState());
    expect(restored.predict(wide.x, wide.rows)).toEqual(pa);
    expect(restored.parameters).toEqual(a.parameters);
  });

  it("predicts into a caller's buffer", () => {
    const model = logisticRegression.fit(data, {}, { seed: 1 });
    const out = new Float64Array(10);
    expect(model.predict(data.x, 10, out)).toBe(out);
    for (const p of out) expect(p > 0 && p < 1).toBe(true);
  });

  it("cannot fit XOR (a linear model's limit, the trees' tests rely on it)", () => {
    const xor = makeXor(20_000, 4, 0, 2);
    const model = logisticRegression.fit(xor, {}, { seed: 1 });
    expect(rocAuc(model.predict(xor.x, xor.rows), xor.y)).toBeLessThan(0.6);
  });

  it("validates parameters and data", () => {
    expect(() => logisticRegression.fit(data, { memorySize: 0 }, { seed: 1 })).toThrow(LearnerParameterError);
    expect(() => logisticRegression.fit(data, { optimizationTolerance: 0 }, { seed: 1 })).toThrow(/optimizationTolerance.*\(0, 1\]/);
    const labels = Float64Array.from(data.y.subarray(0, 10));
    labels[3] = 2;
    expect(() => logisticRegression.fit({ rows: 10, features: 5, x: data.x.subarray(0, 50), y: labels }, {}, { seed: 1 })).toThrow(TrainingDataError);
  });

  it("stops promptly when aborted mid-training", () => {
    const controller = new AbortController();
    let abortedAt = 0;
    let progressAfterAbort = 0;
    const started = performance.now();
    expect(() =>
      logisticRegression.fit(data, { optimizationTolerance: 1e-12 }, {
        seed: 1,
        signal: controller.signal,
        onProgress: () => {
          if (controller.signal.aborted) progressAfterAbort++;
          else if (performance.now() - started > 20) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      }),
    ).toThrow(TrainingAbortedError);
    expect(abortedAt).toBeGreaterThan(0);
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(progressAfterAbort).toBe(0);
  });
});
