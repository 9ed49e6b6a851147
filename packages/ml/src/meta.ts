import type { LearnerName, TaskKind } from "./model.js";

/** Version of the ML engine recorded in every .ilearner's lineage. */
export const ML_LIBRARY_VERSION = "retrain-ml/0.1.0";

/** What a learner predicts: the Two-Class learners a class probability, the others a number. */
export function taskOf(learner: LearnerName): TaskKind {
  return learner.startsWith("Two-Class") ? "binary" : "regression";
}
