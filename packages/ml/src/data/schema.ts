import { DatasetError } from "./errors.js";
import { requireColumn, type ColumnKind, type DataColumn, type DataFrame } from "./frame.js";

/** One column as {@link inferSchema} describes it. */
export interface ColumnSummary {
  readonly name: string;
  readonly kind: ColumnKind;
  /** Rows where the value is missing. */
  readonly missing: number;
  /** Distinct levels (categorical columns only). */
  readonly levels?: number;
}

/** A frame's columns split into the label and the features, with their kinds. */
export interface DatasetSchema {
  readonly rows: number;
  readonly label: ColumnSummary;
  readonly features: readonly ColumnSummary[];
}

/** Options of {@link inferSchema}. */
export interface InferSchemaOptions {
  /** The label column. */
  readonly label: string;
  /** Feature columns. Default: every column but the label, in frame order. */
  readonly features?: readonly string[];
}

/** Describes the label and feature columns (kind, missing count, level count); fails on unknown names. */
export function inferSchema(frame: DataFrame, options: InferSchemaOptions): DatasetSchema {
  const label = requireColumn(frame, options.label);
  const names = options.features ?? frame.columns.filter((c) => c.name !== options.label).map((c) => c.name);
  if (names.includes(options.label)) {
    throw new DatasetError("InvalidArgument", `the label "${options.label}" cannot also be a feature`, { columnName: options.label });
  }
  return { rows: frame.rows, label: summarize(label), features: names.map((name) => summarize(requireColumn(frame, name))) };
}

function summarize(column: DataColumn): ColumnSummary {
  if (column.kind === "numeric") {
    let missing = 0;
    for (let i = 0; i < column.values.length; i++) if (Number.isNaN(column.values[i] as number)) missing++;
    return { name: column.name, kind: "numeric", missing };
  }
  let missing = 0;
  for (let i = 0; i < column.codes.length; i++) if ((column.codes[i] as number) < 0) missing++;
  return { name: column.name, kind: "categorical", missing, levels: column.levels.length };
}
