import type { LearnerName, ModelState, TrainedModel, TrainingMatrix } from "../model.js";
import { boostedDecisionTreeRegression, type BoostedDecisionTreeParameters, twoClassBoostedDecisionTree } from "./boosted-decision-tree.js";
import { LearnerParameterError, ModelStateError } from "./errors.js";
import { linearRegression, type LinearRegressionParameters } from "./linear-regression.js";
import { logisticRegression, type LogisticRegressionParameters } from "./logistic-regression.js";
import { type FitOptions, type LearnerSpec, type ParameterValues, resolveLearnerParameters } from "./spec.js";

/** Each learner's parameter type, by Studio name. */
export type LearnerParametersByName = {
  "Two-Class Logistic Regression": LogisticRegressionParameters;
  "Linear Regression": LinearRegressionParameters;
  "Two-Class Boosted Decision Tree": BoostedDecisionTreeParameters;
  "Boosted Decision Tree Regression": BoostedDecisionTreeParameters;
};

/** Every learner, by Studio name; a missing one fails to compile. */
export const learners: { readonly [N in LearnerName]: LearnerSpec<LearnerParametersByName[N]> } = {
  "Two-Class Logistic Regression": logisticRegression,
  "Linear Regression": linearRegression,
  "Two-Class Boosted Decision Tree": twoClassBoostedDecisionTree,
  "Boosted Decision Tree Regression": boostedDecisionTreeRegression,
};

/** True when `name` is one of the learners above (narrowing helper for untyped input). */
export function isLearnerName(name: unknown): name is LearnerName {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(learners, name);
}

/**
 * Validates `partial` for learner `name` and completes it with Studio's defaults. Throws
 * {@link LearnerParameterError} naming the parameter and its allowed range.
 */
export function resolveParameters<N extends LearnerName>(name: N, partial: { readonly [name: string]: unknown }): LearnerParametersByName[N] {
  return resolveLearnerParameters(specOf(name), partial) as LearnerParametersByName[N];
}

/** Trains learner `name` with untyped parameters (validated first); what a worker or a service calls. */
export function trainLearner(
  name: LearnerName,
  matrix: TrainingMatrix,
  parameters: { readonly [name: string]: unknown },
  options: FitOptions,
): TrainedModel {
  const spec = specOf(name);
  return spec.fit(matrix, resolveLearnerParameters(spec, parameters), options);
}

/** Rebuilds any learner's model from its state, dispatching on the learner name stored in `state.meta`. */
export function modelFromState(state: ModelState): TrainedModel {
  const name = state.meta.learner;
  if (!isLearnerName(name)) throw new ModelStateError(String(name), `unknown learner ${JSON.stringify(name)}`);
  return specOf(name).fromState(state);
}

/** A learner's spec seen through its untyped parameter bag (each spec validates what it receives). */
function specOf(name: LearnerName): LearnerSpec<ParameterValues> {
  if (!isLearnerName(name)) {
    throw new LearnerParameterError(String(name), "learner", `one of: ${Object.keys(learners).join(", ")}`, name);
  }
  return learners[name] as unknown as LearnerSpec<ParameterValues>;
}
