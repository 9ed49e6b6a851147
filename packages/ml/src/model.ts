// The seam between learners, the .ilearner format, featurization and scoring. Shared by every part
// of the ML engine; change it only with all of them in view.

/** Learner names as in Studio (classic). */
export type LearnerName =
  | "Two-Class Logistic Regression"
  | "Linear Regression"
  | "Two-Class Boosted Decision Tree"
  | "Boosted Decision Tree Regression";

/** What a model predicts. */
export type TaskKind = "binary" | "regression";

/** A JSON value (for model metadata kept in the .ilearner header). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Numeric training input: a dense row-major design matrix and its label. */
export interface TrainingMatrix {
  readonly rows: number;
  /** Columns of `x` (features after featurization: imputed, one-hot encoded). */
  readonly features: number;
  /** rows × features, row-major; no NaN (missing values are imputed before training). */
  readonly x: Float64Array;
  /** Binary: 0/1. Regression: the target. */
  readonly y: Float64Array;
}

/**
 * A learner's fitted state in a form the .ilearner format can store: small JSON metadata plus named
 * typed arrays (written as raw little-endian bytes, so a model of millions of numbers loads fast).
 */
export interface ModelState {
  readonly kind: "logistic" | "linear" | "gbdt";
  readonly meta: { [key: string]: JsonValue };
  readonly arrays: { readonly [name: string]: Float64Array | Float32Array | Int32Array | Uint8Array };
}

/** A fitted model over the featurized matrix. */
export interface TrainedModel {
  readonly learner: LearnerName;
  readonly task: TaskKind;
  /** Number of featurized input columns it expects. */
  readonly features: number;
  /** The hyperparameters it was trained with (defaults resolved). */
  readonly parameters: { readonly [name: string]: number | string | boolean };
  /**
   * Predicts `rows` rows of the row-major matrix `x`: the probability of class 1 for binary, the value
   * for regression. Writes into `out` when given (length ≥ rows) and returns it.
   */
  predict(x: Float64Array, rows: number, out?: Float64Array): Float64Array;
  /** The state to store; {@link TrainedModel} is rebuilt from it by the learner's `fromState`. */
  toState(): ModelState;
}
