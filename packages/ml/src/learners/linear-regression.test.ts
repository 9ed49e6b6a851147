import { LearnerParameterError, TrainingDataError } from "./errors.js";
import { linearRegression, type LinearRegressionModel } from "./linear-regression.js";
import { rSquared } from "./metrics.js";
import { makeLinear, makeSineSquare } from "./synthetic.js";

const weights = [2, -1, 0.5, 3, 0, -0.25];
const intercept = 4;
const data = makeLinear(100_000, weights, intercept, 0.1, 21);

describe("Linear Regression", () => {
  it("recovers known coefficients and intercept within 0.05", () => {
    const model = linearRegression.fit(data, {}, { seed: 1 }) as LinearRegressionModel;
    weights.forEach((w, j) => expect(Math.abs((model.weights[j] as number) - w)).toBeLessThan(0.05));
    expect(Math.abs(model.intercept - intercept)).toBeLessThan(0.05);
  });

  it("matches the closed form on a tiny problem, with and without the intercept and with L2", () => {
    // y = 1 + 2x exactly on x = 0..3.
    const m = { rows: 4, features: 1, x: Float64Array.of(0, 1, 2, 3), y: Float64Array.of(1, 3, 5, 7) };
    const ols = linearRegression.fit(m, { l2RegularizationWeight: 0 }, { seed: 1 }) as LinearRegressionModel;
    expect(ols.weights[0]).toBeCloseTo(2, 12);
    expect(ols.intercept).toBeCloseTo(1, 12);
    // Ridge on centred data: w = Σ(x − x̄)(y − ȳ) / (Σ(x − x̄)² + λ) = 10 / (5 + 5) = 1.
    const ridge = linearRegression.fit(m, { l2RegularizationWeight: 5 }, { seed: 1 }) as LinearRegressionModel;
    expect(ridge.weights[0]).toBeCloseTo(1, 12);
    expect(ridge.intercept).toBeCloseTo(4 - 1 * 1.5, 12);
    // Through the origin: w = Σxy / Σx² = 34 / 14.
    const origin = linearRegression.fit(m, { l2RegularizationWeight: 0, includeIntercept: false }, { seed: 1 }) as LinearRegressionModel;
    expect(origin.weights[0]).toBeCloseTo(34 / 14, 12);
    expect(origin.intercept).toBe(0);
  });

  it("stays finite and predictive when columns are collinear or constant (ridge jitter fallback)", () => {
    const base = makeLinear(5_000, [1, 2], 0.5, 0.01, 4);
    const x = new Float64Array(base.rows * 4);
    for (let i = 0; i < base.rows; i++) {
      x[i * 4] = base.x[i * 2] as number;
      x[i * 4 + 1] = base.x[i * 2 + 1] as number;
      x[i * 4 + 2] = base.x[i * 2] as number; // duplicate of column 0
      x[i * 4 + 3] = 7; // constant
    }
    const m = { rows: base.rows, features: 4, x, y: base.y };
    const model = linearRegression.fit(m, { l2RegularizationWeight: 0 }, { seed: 1 }) as LinearRegressionModel;
    for (const w of model.weights) expect(Number.isFinite(w)).toBe(true);
    expect((model.weights[0] as number) + (model.weights[2] as number)).toBeCloseTo(1, 2);
    expect(model.weights[3]).toBe(0);
    expect(rSquared(model.predict(x, m.rows), m.y)).toBeGreaterThan(0.999);
  });

  it("is deterministic across thread counts and round-trips its state bit for bit", () => {
    const wide = makeLinear(120_000, Array.from({ length: 20 }, (_, j) => j / 10 - 1), 1, 0.5, 9);
    const a = linearRegression.fit(wide, {}, { seed: 1, threads: 1 });
    const b = linearRegression.fit(wide, {}, { seed: 1, threads: 2 });
    const pa = a.predict(wide.x, wide.rows);
    expect(b.predict(wide.x, wide.rows)).toEqual(pa);
    expect(linearRegression.fromState(a.toState()).predict(wide.x, wide.rows)).toEqual(pa);
  });

  it("cannot fit sin(2x₀) + x₁² well (the boosted trees' tests rely on it)", () => {
    const m = makeSineSquare(20_000, 4, 0.05, 3);
    const model = linearRegression.fit(m, {}, { seed: 1 });
    expect(rSquared(model.predict(m.x, m.rows), m.y)).toBeLessThan(0.2);
  });

  it("validates parameters and data", () => {
    expect(() => linearRegression.fit(data, { l2RegularizationWeight: -1 }, { seed: 1 })).toThrow(LearnerParameterError);
    expect(() => linearRegression.fit(data, { includeIntercept: 1 as unknown as boolean }, { seed: 1 })).toThrow(/includeIntercept.*boolean/);
    const x = Float64Array.of(1, Number.NaN);
    expect(() => linearRegression.fit({ rows: 2, features: 1, x, y: Float64Array.of(1, 2) }, {}, { seed: 1 })).toThrow(TrainingDataError);
  });
});
