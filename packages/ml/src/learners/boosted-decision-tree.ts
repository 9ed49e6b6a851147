import type { LearnerName, ModelState, TaskKind, TrainedModel, TrainingMatrix } from "../model.js";
import { ForestPredictor } from "./forest-predictor.js";
import { type BoostingLoss, type Forest, trainForest } from "./gradient-boosting.js";
import { ModelStateError } from "./errors.js";
import {
  checkTrainingMatrix,
  type FitOptions,
  type LearnerSpec,
  predictionBuffer,
  readStateMeta,
  resolveLearnerParameters,
  stateArray,
  stateMeta,
  throwIfAborted,
} from "./spec.js";

/**
 * Studio's boosted decision tree parameters (Two-Class Boosted Decision Tree and Boosted Decision Tree
 * Regression share them). Trees are grown leaf-wise on quantile-binned features; a leaf's value is
 * −learningRate · ΣG / (ΣH + l2) over its samples' loss gradients G and hessians H.
 */
export type BoostedDecisionTreeParameters = {
  /** Leaves per tree (leaf-wise growth stops there). Default 20. */
  readonly maximumNumberOfLeavesPerTree: number;
  /** A split may not leave fewer samples than this on either side. Default 10. */
  readonly minimumNumberOfSamplesPerLeafNode: number;
  /** Shrinkage applied to every leaf value. Default 0.2. */
  readonly learningRate: number;
  /** Boosting iterations (trees). Default 100. */
  readonly numberOfTreesConstructed: number;
  /** Quantile bins per feature (NaN gets one more). Default 255. */
  readonly numberOfBins: number;
  /** L2 on leaf values (λ above). Not a Studio parameter; default 0.001 only guards tiny hessian sums. */
  readonly l2RegularizationWeight: number;
};

const defaults: BoostedDecisionTreeParameters = {
  maximumNumberOfLeavesPerTree: 20,
  minimumNumberOfSamplesPerLeafNode: 10,
  learningRate: 0.2,
  numberOfTreesConstructed: 100,
  numberOfBins: 255,
  l2RegularizationWeight: 0.001,
};

const parameters = {
  maximumNumberOfLeavesPerTree: { kind: "integer", min: 2, max: 32_768, description: "Leaves per tree." },
  minimumNumberOfSamplesPerLeafNode: { kind: "integer", min: 1, max: 1_000_000_000, description: "Minimum samples in a leaf." },
  learningRate: { kind: "number", min: 0, max: 1, minExclusive: true, description: "Shrinkage of each tree." },
  numberOfTreesConstructed: { kind: "integer", min: 1, max: 100_000, description: "Number of trees." },
  numberOfBins: { kind: "integer", min: 2, max: 255, description: "Quantile bins per feature." },
  l2RegularizationWeight: { kind: "number", min: 0, max: 1e12, description: "L2 regularisation of leaf values." },
} as const;

/** A fitted boosted-tree ensemble: probability of class 1 (binary) or the value (regression). */
export class BoostedDecisionTreeModel implements TrainedModel {
  readonly task: TaskKind;
  private readonly predictor: ForestPredictor;

  constructor(
    readonly learner: LearnerName,
    readonly features: number,
    readonly parameters: BoostedDecisionTreeParameters,
    /** The trees (flat arrays; see {@link Forest}). */
    readonly forest: Forest,
  ) {
    this.task = learner === TWO_CLASS ? "binary" : "regression";
    this.predictor = new ForestPredictor(forest, features, lossOf(learner) === "logloss");
  }

  /** Number of trees. */
  get trees(): number {
    return this.forest.treeOffsets.length - 1;
  }

  predict(x: Float64Array, rows: number, out?: Float64Array): Float64Array {
    const result = predictionBuffer(this.learner, this.features, x, rows, out);
    this.predictor.predict(x, rows, result);
    return result;
  }

  toState(): ModelState {
    const fo = this.forest;
    return {
      kind: "gbdt",
      meta: stateMeta(this),
      arrays: {
        baseScore: Float64Array.of(fo.baseScore),
        treeOffsets: Int32Array.from(fo.treeOffsets),
        feature: Int32Array.from(fo.feature),
        threshold: Float64Array.from(fo.threshold),
        missingLeft: Uint8Array.from(fo.missingLeft),
        left: Int32Array.from(fo.left),
        right: Int32Array.from(fo.right),
        value: Float64Array.from(fo.value),
      },
    };
  }
}

const TWO_CLASS = "Two-Class Boosted Decision Tree";
const REGRESSION = "Boosted Decision Tree Regression";

function lossOf(learner: LearnerName): BoostingLoss {
  return learner === TWO_CLASS ? "logloss" : "squared";
}

function makeSpec(name: typeof TWO_CLASS | typeof REGRESSION): LearnerSpec<BoostedDecisionTreeParameters> {
  const task: TaskKind = name === TWO_CLASS ? "binary" : "regression";
  const spec: LearnerSpec<BoostedDecisionTreeParameters> = {
    name,
    task,
    defaults,
    parameters,
    fit(m: TrainingMatrix, given: Partial<BoostedDecisionTreeParameters>, options: FitOptions): BoostedDecisionTreeModel {
      const p = resolveLearnerParameters(spec, given);
      checkTrainingMatrix(name, task, m, { allowMissing: true });
      throwIfAborted(name, options.signal);
      const { forest } = trainForest(
        name,
        m,
        lossOf(name),
        {
          trees: p.numberOfTreesConstructed,
          maxLeaves: p.maximumNumberOfLeavesPerTree,
          minSamplesPerLeaf: p.minimumNumberOfSamplesPerLeafNode,
          learningRate: p.learningRate,
          maxBins: p.numberOfBins,
          l2: p.l2RegularizationWeight,
        },
        options,
      );
      return new BoostedDecisionTreeModel(name, m.features, p, forest);
    },
    fromState(state: ModelState): BoostedDecisionTreeModel {
      const { features, parameters: p } = readStateMeta(spec, "gbdt", state);
      const treeOffsets = stateArray(name, state, "treeOffsets", Int32Array);
      const nodes = stateArray(name, state, "feature", Int32Array).length;
      const forest: Forest = {
        baseScore: stateArray(name, state, "baseScore", Float64Array, 1)[0] as number,
        treeOffsets: Int32Array.from(treeOffsets),
        feature: Int32Array.from(stateArray(name, state, "feature", Int32Array, nodes)),
        threshold: Float64Array.from(stateArray(name, state, "threshold", Float64Array, nodes)),
        missingLeft: Uint8Array.from(stateArray(name, state, "missingLeft", Uint8Array, nodes)),
        left: Int32Array.from(stateArray(name, state, "left", Int32Array, nodes)),
        right: Int32Array.from(stateArray(name, state, "right", Int32Array, nodes)),
        value: Float64Array.from(stateArray(name, state, "value", Float64Array, nodes)),
      };
      checkForest(name, forest, features);
      return new BoostedDecisionTreeModel(name, features, p, forest);
    },
  };
  return spec;
}

/** Rejects a forest whose walks could leave the arrays or loop: children must point forward, in range. */
function checkForest(name: LearnerName, forest: Forest, features: number): void {
  const nodes = forest.feature.length;
  const offsets = forest.treeOffsets;
  if (offsets.length < 2 || offsets[0] !== 0 || offsets[offsets.length - 1] !== nodes) {
    throw new ModelStateError(name, "treeOffsets do not cover the node arrays");
  }
  for (let t = 0; t + 1 < offsets.length; t++) {
    const start = offsets[t] as number;
    const end = offsets[t + 1] as number;
    if (!(end > start)) throw new ModelStateError(name, `tree ${t} is empty`);
    for (let k = start; k < end; k++) {
      const j = forest.feature[k] as number;
      if (j < 0) continue;
      const l = forest.left[k] as number;
      const r = forest.right[k] as number;
      if (j >= features || !(l > k && l < end && r > k && r < end)) {
        throw new ModelStateError(name, `node ${k} of tree ${t} is malformed`);
      }
    }
  }
}

/** Two-Class Boosted Decision Tree: histogram gradient boosting on the log-loss; predicts P(class 1). */
export const twoClassBoostedDecisionTree = makeSpec(TWO_CLASS);

/** Boosted Decision Tree Regression: histogram gradient boosting on the squared error. */
export const boostedDecisionTreeRegression = makeSpec(REGRESSION);
