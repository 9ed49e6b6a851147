import { type BoostedDecisionTreeModel, boostedDecisionTreeRegression, twoClassBoostedDecisionTree } from "./boosted-decision-tree.js";
import { LearnerParameterError, ModelStateError, TrainingAbortedError } from "./errors.js";
import { ForestPredictor } from "./forest-predictor.js";
import { predictForest, trainForest } from "./gradient-boosting.js";
import { linearRegression } from "./linear-regression.js";
import { logisticRegression } from "./logistic-regression.js";
import { rocAuc, rSquared } from "./metrics.js";
import { makeSineSquare, makeXor } from "./synthetic.js";

const xorTrain = makeXor(60_000, 6, 0.02, 1);
const xorTest = makeXor(20_000, 6, 0.02, 2);

describe("Two-Class Boosted Decision Tree", () => {
  it("fits an XOR-like target a linear model cannot (AUC > 0.95 vs < 0.6)", () => {
    const trees = twoClassBoostedDecisionTree.fit(xorTrain, {}, { seed: 1 });
    const linear = logisticRegression.fit(xorTrain, {}, { seed: 1 });
    const aucTrees = rocAuc(trees.predict(xorTest.x, xorTest.rows), xorTest.y);
    const aucLinear = rocAuc(linear.predict(xorTest.x, xorTest.rows), xorTest.y);
    expect(aucTrees).toBeGreaterThan(0.95);
    expect(aucLinear).toBeLessThan(0.6);
  });

  it("predicts exactly the scores it trained to, missing values included (bins and thresholds agree)", () => {
    const x = Float64Array.from(xorTrain.x.subarray(0, 20_000 * 6));
    // Make feature 2 informative through missingness, and sprinkle NaN in feature 0.
    const y = Float64Array.from(xorTrain.y.subarray(0, 20_000));
    for (let i = 0; i < 20_000; i++) {
      if (i % 7 === 0) x[i * 6] = Number.NaN;
      if (y[i] === 1 && i % 3 === 0) x[i * 6 + 2] = Number.NaN;
    }
    const m = { rows: 20_000, features: 6, x, y };
    const settings = { trees: 30, maxLeaves: 15, minSamplesPerLeaf: 10, learningRate: 0.2, maxBins: 63, l2: 0 };
    const { forest, trainingScores } = trainForest("Two-Class Boosted Decision Tree", m, "logloss", settings, { seed: 4 });
    const raw = new Float64Array(m.rows);
    predictForest(forest, 6, "squared", x, m.rows, raw); // "squared": no sigmoid, the raw score
    expect(raw).toEqual(trainingScores);
    expect(Array.from(forest.missingLeft).some((v) => v === 1)).toBe(true);
    // The fast predictor (relabelled, branch-free, threaded on large batches) gives the same bits.
    const fast = new Float64Array(m.rows);
    new ForestPredictor(forest, 6, false).predict(x, m.rows, fast);
    expect(fast).toEqual(trainingScores);
    const big = Float64Array.from({ length: 200_000 * 6 }, (_, k) => x[k % x.length] as number);
    const expected = new Float64Array(200_000);
    predictForest(forest, 6, "logloss", big, 200_000, expected);
    const got = new Float64Array(200_000);
    new ForestPredictor(forest, 6, true).predict(big, 200_000, got);
    expect(got).toEqual(expected);
  });

  it("gives the same forest with the WebAssembly and the JavaScript histogram, on one thread or two", () => {
    const settings = { trees: 10, maxLeaves: 31, minSamplesPerLeaf: 20, learningRate: 0.1, maxBins: 255, l2: 0 };
    const wasm = trainForest("Two-Class Boosted Decision Tree", xorTrain, "logloss", settings, { seed: 5, threads: 2 });
    const js = trainForest("Two-Class Boosted Decision Tree", xorTrain, "logloss", settings, { seed: 5, threads: 1 }, { useWasm: false });
    expect(js.forest).toEqual(wasm.forest);
    expect(js.trainingScores).toEqual(wasm.trainingScores);
  });

  it("is deterministic for a seed and round-trips its state bit for bit", () => {
    const a = twoClassBoostedDecisionTree.fit(xorTrain, { numberOfTreesConstructed: 20 }, { seed: 7 });
    const b = twoClassBoostedDecisionTree.fit(xorTrain, { numberOfTreesConstructed: 20 }, { seed: 7 });
    const pa = a.predict(xorTest.x, xorTest.rows);
    expect(b.predict(xorTest.x, xorTest.rows)).toEqual(pa);
    const restored = twoClassBoostedDecisionTree.fromState(a.toState());
    expect(restored.predict(xorTest.x, xorTest.rows)).toEqual(pa);
    expect((restored as BoostedDecisionTreeModel).trees).toBe(20);
  });

  it("respects the leaf limit and the minimum samples per leaf", () => {
    const { forest } = trainForest(
      "Two-Class Boosted Decision Tree",
      xorTrain,
      "logloss",
      { trees: 5, maxLeaves: 7, minSamplesPerLeaf: 5_000, learningRate: 0.2, maxBins: 255, l2: 0 },
      { seed: 1 },
    );
    for (let t = 0; t < 5; t++) {
      let leaves = 0;
      for (let k = forest.treeOffsets[t] as number; k < (forest.treeOffsets[t + 1] as number); k++) if (forest.feature[k] === -1) leaves++;
      expect(leaves).toBeLessThanOrEqual(7);
    }
    // Count training rows per leaf of the first tree by walking it.
    const counts = new Map<number, number>();
    for (let i = 0; i < xorTrain.rows; i++) {
      let node = 0;
      while ((forest.feature[node] as number) >= 0) {
        const v = xorTrain.x[i * 6 + (forest.feature[node] as number)] as number;
        node = v <= (forest.threshold[node] as number) ? (forest.left[node] as number) : (forest.right[node] as number);
      }
      counts.set(node, (counts.get(node) ?? 0) + 1);
    }
    for (const count of counts.values()) expect(count).toBeGreaterThanOrEqual(5_000);
  });

  it("validates parameters and rejects a malformed state", () => {
    expect(() => twoClassBoostedDecisionTree.fit(xorTrain, { numberOfBins: 256 }, { seed: 1 })).toThrow(LearnerParameterError);
    expect(() => twoClassBoostedDecisionTree.fit(xorTrain, { maximumNumberOfLeavesPerTree: 1 }, { seed: 1 })).toThrow(/maximumNumberOfLeavesPerTree/);
    expect(() => twoClassBoostedDecisionTree.fit(xorTrain, { learningRate: 0 }, { seed: 1 })).toThrow(/\(0, 1\]/);
    const state = twoClassBoostedDecisionTree.fit(xorTrain, { numberOfTreesConstructed: 2 }, { seed: 1 }).toState();
    const left = Int32Array.from(state.arrays.left as Int32Array);
    left[0] = 0; // a self-loop
    expect(() => twoClassBoostedDecisionTree.fromState({ ...state, arrays: { ...state.arrays, left } })).toThrow(ModelStateError);
    expect(() => boostedDecisionTreeRegression.fromState(state)).toThrow(ModelStateError);
  });

  it("stops promptly when aborted mid-training", () => {
    const controller = new AbortController();
    let treesAfterAbort = 0;
    expect(() =>
      twoClassBoostedDecisionTree.fit(xorTrain, { numberOfTreesConstructed: 1000 }, {
        seed: 1,
        signal: controller.signal,
        onProgress: (fraction) => {
          if (controller.signal.aborted) treesAfterAbort++;
          else if (fraction >= 0.005) controller.abort();
        },
      }),
    ).toThrow(TrainingAbortedError);
    // Promptness counted in work, not time (machines are noisy): not one more tree after the abort.
    expect(treesAfterAbort).toBe(0);
  });
});

describe("Boosted Decision Tree Regression", () => {
  const train = makeSineSquare(60_000, 5, 0.1, 3);
  const test = makeSineSquare(20_000, 5, 0.1, 4);

  it("fits sin(2x₀) + x₁² (R² > 0.9) where linear regression cannot (R² < 0.2)", () => {
    const trees = boostedDecisionTreeRegression.fit(train, {}, { seed: 1 });
    const linear = linearRegression.fit(train, {}, { seed: 1 });
    expect(rSquared(trees.predict(test.x, test.rows), test.y)).toBeGreaterThan(0.9);
    expect(rSquared(linear.predict(test.x, test.rows), test.y)).toBeLessThan(0.2);
  });

  it("is deterministic across thread counts and round-trips its state bit for bit", () => {
    const a = boostedDecisionTreeRegression.fit(train, { numberOfTreesConstructed: 20 }, { seed: 2, threads: 1 });
    const b = boostedDecisionTreeRegression.fit(train, { numberOfTreesConstructed: 20 }, { seed: 2, threads: 2 });
    const pa = a.predict(test.x, test.rows);
    expect(b.predict(test.x, test.rows)).toEqual(pa);
    expect(boostedDecisionTreeRegression.fromState(a.toState()).predict(test.x, test.rows)).toEqual(pa);
  });
});
