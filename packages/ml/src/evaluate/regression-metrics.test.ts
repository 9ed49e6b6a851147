import { evaluateRegression } from "./regression-metrics.js";

describe("evaluateRegression", () => {
  it("matches hand-computed Studio definitions (and sklearn's MAE, RMSE, R²)", () => {
    // y = [3, −0.5, 2, 7], ŷ = [2.5, 0, 2, 8]; ȳ = 2.875
    // Σ|y−ŷ| = 2, Σ(y−ŷ)² = 1.5, Σ|y−ȳ| = 8.5, Σ(y−ȳ)² = 29.1875
    const m = evaluateRegression(Float64Array.from([3, -0.5, 2, 7]), Float64Array.from([2.5, 0, 2, 8]));
    expect(m["Mean Absolute Error"]).toBeCloseTo(0.5, 15);
    expect(m["Root Mean Squared Error"]).toBeCloseTo(Math.sqrt(1.5 / 4), 15);
    expect(m["Relative Absolute Error"]).toBeCloseTo(2 / 8.5, 15);
    expect(m["Relative Squared Error"]).toBeCloseTo(1.5 / 29.1875, 15);
    expect(m["Coefficient of Determination"]).toBeCloseTo(0.9486081370449679, 14);
  });

  it("gives NaN relative errors for a constant target and rejects bad input", () => {
    const m = evaluateRegression(Float64Array.from([2, 2]), Float64Array.from([1, 3]));
    expect(m["Mean Absolute Error"]).toBe(1);
    expect(m["Relative Squared Error"]).toBeNaN();
    expect(m["Coefficient of Determination"]).toBeNaN();
    expect(() => evaluateRegression(Float64Array.from([1]), Float64Array.from([NaN]))).toThrow("finite");
  });
});
