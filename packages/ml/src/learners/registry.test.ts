import { LearnerParameterError, ModelStateError } from "./errors.js";
import { isLearnerName, learners, modelFromState, resolveParameters, trainLearner } from "./registry.js";
import { makeLogistic } from "./synthetic.js";

describe("learner registry", () => {
  it("holds every Studio learner under its name, with its task", () => {
    expect(Object.keys(learners).sort()).toEqual([
      "Boosted Decision Tree Regression",
      "Linear Regression",
      "Two-Class Boosted Decision Tree",
      "Two-Class Logistic Regression",
    ]);
    for (const [name, spec] of Object.entries(learners)) expect(spec.name).toBe(name);
    expect(learners["Linear Regression"].task).toBe("regression");
    expect(learners["Two-Class Boosted Decision Tree"].task).toBe("binary");
    expect(isLearnerName("Linear Regression")).toBe(true);
    expect(isLearnerName("Decision Forest")).toBe(false);
  });

  it("resolves Studio-classic defaults", () => {
    expect(resolveParameters("Two-Class Logistic Regression", {})).toEqual({
      optimizationTolerance: 1e-7,
      l1RegularizationWeight: 1,
      l2RegularizationWeight: 1,
      memorySize: 20,
    });
    expect(resolveParameters("Linear Regression", {})).toEqual({ l2RegularizationWeight: 0.001, includeIntercept: true });
    expect(resolveParameters("Two-Class Boosted Decision Tree", { learningRate: 0.1 })).toMatchObject({
      maximumNumberOfLeavesPerTree: 20,
      minimumNumberOfSamplesPerLeafNode: 10,
      learningRate: 0.1,
      numberOfTreesConstructed: 100,
      numberOfBins: 255,
    });
  });

  it("names the parameter and the allowed range when rejecting one", () => {
    const attempt = (params: { [name: string]: unknown }): LearnerParameterError => {
      try {
        resolveParameters("Two-Class Boosted Decision Tree", params);
      } catch (error) {
        if (error instanceof LearnerParameterError) return error;
        throw error;
      }
      throw new Error("accepted");
    };
    const outOfRange = attempt({ numberOfTreesConstructed: 0 });
    expect(outOfRange).toMatchObject({ parameter: "numberOfTreesConstructed", allowed: "an integer in [1, 100000]", value: 0 });
    expect(attempt({ numberOfBins: 2.5 }).allowed).toBe("an integer in [2, 255]");
    expect(attempt({ learningRate: "0.1" }).message).toMatch(/learningRate.*\(0, 1\].*"0\.1"/);
    expect(attempt({ learningrate: 0.1 })).toMatchObject({ parameter: "learningrate" });
    expect(attempt({ learningRate: Number.NaN }).parameter).toBe("learningRate");
  });

  it("trains by name with untyped parameters and rebuilds any model from its state", () => {
    const m = makeLogistic(2_000, [1, -1], 0, 1);
    const model = trainLearner("Two-Class Logistic Regression", m, { memorySize: 5 }, { seed: 1 });
    expect(model.parameters.memorySize).toBe(5);
    const rebuilt = modelFromState(model.toState());
    expect(rebuilt.learner).toBe("Two-Class Logistic Regression");
    expect(rebuilt.predict(m.x, m.rows)).toEqual(model.predict(m.x, m.rows));
    expect(() => trainLearner("Two-Class Logistic Regression", m, { memorySize: -1 }, { seed: 1 })).toThrow(LearnerParameterError);
    expect(() => modelFromState({ ...model.toState(), meta: { learner: "Perceptron" } })).toThrow(ModelStateError);
  });
});
