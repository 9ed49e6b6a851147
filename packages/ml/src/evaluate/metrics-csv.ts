import { readCsvBytes } from "../data/csv-read.js";
import { csvField, type CsvWriteOptions } from "../data/csv-write.js";
import { DatasetError } from "../data/errors.js";
import { cellText, type DataFrame } from "../data/frame.js";
import { parseNumberText } from "../data/parse-number.js";
import type { BinaryMetrics, ConfusionCounts } from "./binary-metrics.js";
import type { RegressionMetrics } from "./regression-metrics.js";

/** Evaluate Model's results for either task. */
export type EvaluationMetrics = BinaryMetrics | RegressionMetrics;

// Column order of the CSV (metricsFromCsv reads by name, so order matters only for writing).
const BINARY_COLUMNS = ["AUC", "Accuracy", "Precision", "Recall", "F1 Score", "Average Log Loss", "Threshold"] as const;
const COUNT_COLUMNS = [
  ["True Positive", "truePositive"],
  ["False Positive", "falsePositive"],
  ["True Negative", "trueNegative"],
  ["False Negative", "falseNegative"],
] as const;
const REGRESSION_COLUMNS = [
  "Mean Absolute Error",
  "Root Mean Squared Error",
  "Relative Absolute Error",
  "Relative Squared Error",
  "Coefficient of Determination",
] as const;

/** True for two-class metrics (narrowing helper). */
export function isBinaryMetrics(metrics: EvaluationMetrics): metrics is BinaryMetrics {
  return "AUC" in metrics;
}

/**
 * The Evaluate Model output as Studio writes it: a header of metric names and one row of values.
 * Binary: AUC … Threshold, then `Positive Label` (when known) and the four confusion counts.
 * Numbers print as `String(value)`, so an undefined metric is the text `NaN`.
 */
export function metricsToCsv(metrics: EvaluationMetrics, options: Pick<CsvWriteOptions, "lineEnding"> = {}): string {
  const cells: [string, string][] = [];
  if (isBinaryMetrics(metrics)) {
    for (const name of BINARY_COLUMNS) cells.push([name, String(metrics[name])]);
    if (metrics["Positive Label"] !== undefined) cells.push(["Positive Label", metrics["Positive Label"]]);
    for (const [name, key] of COUNT_COLUMNS) cells.push([name, String(metrics.counts[key])]);
  } else {
    for (const name of REGRESSION_COLUMNS) cells.push([name, String(metrics[name])]);
  }
  const eol = options.lineEnding ?? "\r\n";
  return cells.map(([name]) => csvField(name)).join(",") + eol + cells.map(([, value]) => csvField(value)).join(",") + eol;
}

/** Reads {@link metricsToCsv}'s output back (the task is told by the header). */
export function metricsFromCsv(csv: string | Uint8Array): EvaluationMetrics {
  const bytes = typeof csv === "string" ? Buffer.from(csv, "utf8") : csv;
  // Only the empty field is missing here: "NaN" is a metric value.
  const frame = readCsvBytes(bytes, { missingValues: [""] });
  if (frame.rows !== 1) throw new DatasetError("InvalidArgument", `an Evaluate Model CSV has one row of values; this one has ${frame.rows}`);
  const value = (name: string): number => metricValue(frame, name);
  if (frame.column("AUC") !== undefined) {
    const counts: ConfusionCounts = {
      truePositive: value("True Positive"),
      falsePositive: value("False Positive"),
      trueNegative: value("True Negative"),
      falseNegative: value("False Negative"),
    };
    const positive = frame.column("Positive Label");
    const label = positive === undefined ? undefined : cellText(positive, 0);
    const metrics: BinaryMetrics = {
      AUC: value("AUC"),
      Accuracy: value("Accuracy"),
      Precision: value("Precision"),
      Recall: value("Recall"),
      "F1 Score": value("F1 Score"),
      "Average Log Loss": value("Average Log Loss"),
      Threshold: value("Threshold"),
      counts,
    };
    return label === undefined ? metrics : { ...metrics, "Positive Label": label };
  }
  if (frame.column("Mean Absolute Error") !== undefined) {
    return {
      "Mean Absolute Error": value("Mean Absolute Error"),
      "Root Mean Squared Error": value("Root Mean Squared Error"),
      "Relative Absolute Error": value("Relative Absolute Error"),
      "Relative Squared Error": value("Relative Squared Error"),
      "Coefficient of Determination": value("Coefficient of Determination"),
    };
  }
  throw new DatasetError("ColumnNotFound", "not an Evaluate Model CSV: it has neither an AUC nor a Mean Absolute Error column");
}

function metricValue(frame: DataFrame, name: string): number {
  const column = frame.column(name);
  if (column === undefined) throw new DatasetError("ColumnNotFound", `the Evaluate Model CSV has no "${name}" column`, { columnName: name });
  if (column.kind === "numeric") return column.values[0] as number;
  const text = cellText(column, 0) ?? "";
  const special: { readonly [text: string]: number } = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, "-Infinity": Number.NEGATIVE_INFINITY };
  const value = special[text] ?? parseNumberText(text);
  if (Number.isNaN(value) && text !== "NaN") {
    throw new DatasetError("InvalidArgument", `"${name}" is "${text}"; expected a number`, { columnName: name });
  }
  return value;
}
