import { type DifferentiableObjective, minimizeLbfgs } from "./lbfgs.js";

const rosenbrock: DifferentiableObjective = {
  dimension: 2,
  evaluate(x, g) {
    const a = x[0] as number;
    const b = x[1] as number;
    g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
    g[1] = 200 * (b - a * a);
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
  },
};

describe("minimizeLbfgs", () => {
  it("minimises the Rosenbrock function", () => {
    const result = minimizeLbfgs(rosenbrock, Float64Array.of(-1.2, 1), { memory: 5, tolerance: 1e-12, maxIterations: 500 });
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
    expect(result.converged).toBe(true);
  });

  it("solves an L1-regularised quadratic exactly (OWL-QN soft-thresholding)", () => {
    // f(x) = ½ Σ (x_j − c_j)², L1 weight 1: x_j = sign(c_j)·max(|c_j| − 1, 0).
    const c = [3, -0.5, 0.2, -2];
    const quadratic: DifferentiableObjective = {
      dimension: 4,
      evaluate(x, g) {
        let f = 0;
        for (let j = 0; j < 4; j++) {
          const d = (x[j] as number) - (c[j] as number);
          g[j] = d;
          f += 0.5 * d * d;
        }
        return f;
      },
    };
    const result = minimizeLbfgs(quadratic, new Float64Array(4), { memory: 5, tolerance: 1e-12, maxIterations: 200, l1: new Float64Array(4).fill(1) });
    expect(result.x[0]).toBeCloseTo(2, 8);
    expect(result.x[1]).toBe(0);
    expect(result.x[2]).toBe(0);
    expect(result.x[3]).toBeCloseTo(-1, 8);
  });

  it("stops when onIteration throws (how learners abort)", () => {
    let calls = 0;
    expect(() =>
      minimizeLbfgs(rosenbrock, Float64Array.of(-1.2, 1), {
        memory: 5,
        tolerance: 1e-12,
        maxIterations: 500,
        onIteration: () => {
          if (++calls === 3) throw new Error("stop");
        },
      }),
    ).toThrow("stop");
    expect(calls).toBe(3);
  });
});
