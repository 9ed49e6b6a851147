// @retrain/ml: datasets, learners, Evaluate Model, Score Model and the .ilearner format.
export type { LearnerName, TaskKind, JsonValue, TrainingMatrix, ModelState, TrainedModel } from "./model.js";

export type { NumericColumn, CategoricalColumn, DataColumn, ColumnKind, DataFrame } from "./data/frame.js";
export { frameFromColumns, selectRows, cellText, columnLength, numericColumn, categoricalColumn, requireColumn } from "./data/frame.js";
export { DatasetError, isDatasetError } from "./data/errors.js";
export type { DatasetErrorCode, DatasetErrorContext } from "./data/errors.js";
export { readCsv, readCsvBytes, resolveCsvReadOptions } from "./data/csv-read.js";
export type { CsvReadOptions, ResolvedCsvReadOptions } from "./data/csv-read.js";
export { writeCsv, writeCsvStream, csvChunks, csvField } from "./data/csv-write.js";
export type { CsvTable, CsvWriteOptions } from "./data/csv-write.js";
export { parseNumberText } from "./data/parse-number.js";
export { inferSchema } from "./data/schema.js";
export type { ColumnSummary, DatasetSchema, InferSchemaOptions } from "./data/schema.js";
export { cleanMissingData, applyReplacements, fitReplacement, categoricalMode } from "./data/clean-missing.js";
export type { MissingStrategy, Replacement, CleanMissingOptions, CleanMissingResult } from "./data/clean-missing.js";
export { parseFeatureSchema, checkCompatible, FEATURE_SCHEMA_VERSION, UNSEEN_LEVEL } from "./data/feature-schema.js";
export type { FeatureSchema, NumericFeature, CategoricalFeature, InputFeature, LabelSchema, SchemaProblem } from "./data/feature-schema.js";
export { fitFeaturizer, featurizerFromSchema } from "./data/featurizer.js";
export type { Featurizer, FeaturizedMatrix, FeaturizerOptions, TransformOptions } from "./data/featurizer.js";
export { splitRows } from "./data/split.js";
export type { SplitOptions, RowSplit } from "./data/split.js";
export { SeededRandom } from "./data/random.js";

export { evaluateBinary, auc } from "./evaluate/binary-metrics.js";
export type { BinaryMetrics, ConfusionCounts } from "./evaluate/binary-metrics.js";
export { evaluateRegression } from "./evaluate/regression-metrics.js";
export type { RegressionMetrics } from "./evaluate/regression-metrics.js";
export { metricsToCsv, metricsFromCsv, isBinaryMetrics } from "./evaluate/metrics-csv.js";
export type { EvaluationMetrics } from "./evaluate/metrics-csv.js";
export { scoreModel, SCORED_LABELS, SCORED_PROBABILITIES } from "./evaluate/score.js";
export type { ScoreOptions } from "./evaluate/score.js";

export { encodeIlearner, decodeIlearner, ILEARNER_FORMAT_VERSION } from "./ilearner/format.js";
export type { IlearnerInput, IlearnerLineage, IlearnerFile, IlearnerArrayEntry, IlearnerDtype } from "./ilearner/format.js";
export { ilearnerSummary } from "./ilearner/summary.js";
export { IlearnerError, isIlearnerError } from "./ilearner/errors.js";
export type { IlearnerErrorCode } from "./ilearner/errors.js";

export { ML_LIBRARY_VERSION, taskOf } from "./meta.js";

export { learners, isLearnerName, resolveParameters, trainLearner, modelFromState } from "./learners/registry.js";
export type { LearnerParametersByName } from "./learners/registry.js";
export type { LearnerSpec, FitOptions, ParameterValues, ParameterDefinition } from "./learners/spec.js";
export { LearnerParameterError, TrainingAbortedError, TrainingDataError, ModelStateError } from "./learners/errors.js";
export { trainInWorker, defaultWorkerPath } from "./worker/train-in-worker.js";
export type { TrainInWorkerOptions } from "./worker/train-in-worker.js";
export { TrainingWorkerError, WorkerEntryNotFoundError } from "./worker/errors.js";
export { logisticRegression, LogisticRegressionModel } from "./learners/logistic-regression.js";
export type { LogisticRegressionParameters } from "./learners/logistic-regression.js";
export { linearRegression, LinearRegressionModel } from "./learners/linear-regression.js";
export type { LinearRegressionParameters } from "./learners/linear-regression.js";
export { twoClassBoostedDecisionTree, boostedDecisionTreeRegression, BoostedDecisionTreeModel } from "./learners/boosted-decision-tree.js";
export type { BoostedDecisionTreeParameters } from "./learners/boosted-decision-tree.js";
