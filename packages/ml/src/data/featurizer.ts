import type { TaskKind, TrainingMatrix } from "../model.js";
import { categoricalMode, fitReplacement, type MissingStrategy } from "./clean-missing.js";
import { DatasetError } from "./errors.js";
import {
  FEATURE_SCHEMA_VERSION,
  UNSEEN_LEVEL,
  parseFeatureSchema,
  type CategoricalFeature,
  type FeatureSchema,
  type InputFeature,
  type LabelSchema,
} from "./feature-schema.js";
import { requireColumn, type CategoricalColumn, type DataColumn, type DataFrame } from "./frame.js";
import { parseNumberText } from "./parse-number.js";

// Hot loops use module-level aliases: global lookups are slow inside VM contexts such as jest's.
const isMissingNumber = Number.isNaN;

/** Options of {@link fitFeaturizer}. */
export interface FeaturizerOptions {
  /** The label column. */
  readonly label: string;
  /** Feature columns, in this order. Default: every column but the label, in frame order. */
  readonly features?: readonly string[];
  /** What to do with missing feature values. Default `"mean"` (categorical features: their mode). */
  readonly missing?: MissingStrategy;
  readonly task: TaskKind;
  /**
   * Binary: the label text of the positive class (1). Default: the second of the two values in
   * sorted order (numbers numerically, so 1 for a 0/1 label; texts by code unit).
   */
  readonly positiveLabel?: string;
  /** One-hot encode categorical features (else one ordinal column each). Default true. */
  readonly oneHot?: boolean;
}

/** Options of {@link Featurizer.transform}. */
export interface TransformOptions {
  /**
   * `train` (default): the label column must exist and rows without a label are left out.
   * `score`: the label is ignored. Either way, under `drop` rows with a missing feature are left out.
   */
  readonly purpose?: "train" | "score";
}

/** A featurized matrix and the source row of each of its rows. */
export interface FeaturizedMatrix {
  /** rows × features, row-major, no NaN. */
  readonly x: Float64Array;
  readonly rows: number;
  readonly features: number;
  /** Source row (in the frame given to `transform`) of each matrix row, ascending. */
  readonly rowIndex: Int32Array;
}

/**
 * Turns frames into the numeric matrix a learner trains on or scores, as fitted on the training frame:
 * imputation, one-hot layout, label mapping. Rebuilt from its JSON {@link FeatureSchema} by
 * {@link featurizerFromSchema}.
 */
export interface Featurizer {
  /** The plain-JSON description this featurizer runs from (what the .ilearner stores). */
  readonly schema: FeatureSchema;
  /** Featurized columns per row. */
  readonly features: number;
  /** Names of the featurized columns (`schema.outputs`). */
  readonly featureNames: readonly string[];
  /** The feature matrix of `frame` (missing columns → `ColumnNotFound`; unseen levels → the unseen bucket). */
  transform(frame: DataFrame, options?: TransformOptions): FeaturizedMatrix;
  /** The label of each row in `rowIndex`: 0/1 for binary, the value for regression (`LabelInvalid` if missing or unknown). */
  labels(frame: DataFrame, rowIndex: Int32Array): Float64Array;
  /** `transform` (purpose `train`) and `labels` together: what a learner's `train` takes. */
  trainingMatrix(frame: DataFrame): TrainingMatrix & { readonly rowIndex: Int32Array };
  /** Binary: the label text of class 0 or 1 (as in the data). */
  classLabel(value: 0 | 1): string;
}

/** Fits a {@link Featurizer} on a training frame: label mapping, imputation values, categorical levels. */
export function fitFeaturizer(frame: DataFrame, options: FeaturizerOptions): Featurizer {
  const missing = options.missing ?? "mean";
  const oneHot = options.oneHot ?? true;
  const labelColumn = requireColumn(frame, options.label);
  const names = options.features ?? frame.columns.filter((c) => c.name !== options.label).map((c) => c.name);
  if (names.includes(options.label)) {
    throw new DatasetError("InvalidArgument", `the label "${options.label}" cannot also be a feature`, { columnName: options.label });
  }
  if (new Set(names).size !== names.length) throw new DatasetError("InvalidArgument", `features repeat a column: ${names.join(", ")}`);
  const labelRows = presentRows(labelColumn);
  const label = fitLabel(labelColumn, labelRows, options.task, options.positiveLabel);

  let offset = 0;
  const outputs: string[] = [];
  const inputs = names.map((name): InputFeature => {
    const column = requireColumn(frame, name);
    const start = offset;
    if (column.kind === "numeric") {
      const replacement = missing === "drop" ? null : (fitReplacement(column, missing, labelRows).value as number);
      outputs.push(name);
      offset += 1;
      return { name, kind: "numeric", replacement, offset: start, width: 1 };
    }
    const levels = levelsIn(column, labelRows);
    const replacement = missing === "drop" ? null : categoricalMode(column, labelRows);
    const width = oneHot ? levels.length + 1 : 1;
    if (oneHot) outputs.push(...levels.map((level) => `${name}=${level}`), `${name}=${UNSEEN_LEVEL}`);
    else outputs.push(name);
    offset += width;
    return { name, kind: "categorical", levels, replacement, offset: start, width };
  });
  return new SchemaFeaturizer({ version: FEATURE_SCHEMA_VERSION, missing, oneHot, inputs, label, outputs });
}

/** Rebuilds the featurizer stored with a model (validating the JSON first). */
export function featurizerFromSchema(schema: unknown): Featurizer {
  return new SchemaFeaturizer(parseFeatureSchema(schema));
}

function fitLabel(column: DataColumn, rows: Int32Array, task: TaskKind, positiveLabel: string | undefined): LabelSchema {
  const name = column.name;
  if (task === "regression") {
    if (column.kind !== "numeric") {
      throw new DatasetError("LabelInvalid", `a regression label must be numeric; "${name}" is categorical (e.g. "${column.levels[0] ?? ""}")`, {
        columnName: name,
      });
    }
    return { name, task, kind: "numeric" };
  }
  let distinct: string[];
  let values: number[] = [];
  if (column.kind === "numeric") {
    const seen = new Set<number>();
    for (let k = 0; k < rows.length && seen.size <= 2; k++) seen.add(column.values[rows[k] as number] as number);
    values = [...seen].sort((a, b) => a - b);
    distinct = values.map(String);
  } else {
    distinct = levelsIn(column, rows);
  }
  if (distinct.length !== 2) {
    const shown = distinct.length > 2 ? `more than two distinct values (${distinct.slice(0, 3).join(", ")}, …)` : `${distinct.length} distinct value(s)`;
    throw new DatasetError("LabelInvalid", `a binary label needs exactly two classes; "${name}" has ${shown}`, { columnName: name });
  }
  let positive = 1;
  if (positiveLabel !== undefined) {
    positive = distinct.indexOf(positiveLabel);
    if (positive < 0) {
      throw new DatasetError("LabelInvalid", `positive label "${positiveLabel}" is not a value of "${name}" (${distinct.join(", ")})`, { columnName: name });
    }
  }
  const classes: [string, string] = [distinct[1 - positive] as string, distinct[positive] as string];
  if (column.kind === "categorical") return { name, task, kind: "categorical", classes };
  return { name, task, kind: "numeric", classes, classValues: [values[1 - positive] as number, values[positive] as number] };
}

/** Rows where the column has a value. */
function presentRows(column: DataColumn): Int32Array {
  const n = column.kind === "numeric" ? column.values.length : column.codes.length;
  const out = new Int32Array(n);
  let k = 0;
  for (let row = 0; row < n; row++) {
    const present = column.kind === "numeric" ? !isMissingNumber(column.values[row] as number) : (column.codes[row] as number) >= 0;
    if (present) out[k++] = row;
  }
  return out.subarray(0, k);
}

/** The levels that occur in `rows`, sorted by code unit (locale-independent, so every host agrees). */
function levelsIn(column: CategoricalColumn, rows: Int32Array): string[] {
  const used = new Uint8Array(column.levels.length);
  for (let k = 0; k < rows.length; k++) {
    const code = column.codes[rows[k] as number] as number;
    if (code >= 0) used[code] = 1;
  }
  return column.levels.filter((_, code) => used[code] === 1).sort(compareText);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MISSING = -1;

class SchemaFeaturizer implements Featurizer {
  readonly features: number;
  readonly featureNames: readonly string[];
  readonly #levelIndex: readonly (Map<string, number> | null)[];

  constructor(readonly schema: FeatureSchema) {
    this.features = schema.outputs.length;
    this.featureNames = schema.outputs;
    this.#levelIndex = schema.inputs.map((input) => (input.kind === "categorical" ? new Map(input.levels.map((l, i) => [l, i])) : null));
  }

  transform(frame: DataFrame, options: TransformOptions = {}): FeaturizedMatrix {
    const purpose = options.purpose ?? "train";
    const { inputs, missing, oneHot } = this.schema;
    // Each input as typed values: floats for numeric inputs, schema level codes for categorical ones
    // (MISSING, or levels.length for a level not seen in training).
    const sources = inputs.map((input, i): Float64Array | Int32Array => {
      const column = requireColumn(frame, input.name);
      if (input.kind === "categorical") return this.#schemaCodes(input, i, column);
      if (column.kind !== "numeric") {
        throw new DatasetError("ColumnKindMismatch", `column "${input.name}" is categorical in this data; the model was trained with it numeric`, {
          columnName: input.name,
        });
      }
      return column.values;
    });

    const keep = new Uint8Array(frame.rows).fill(1);
    if (purpose === "train") {
      const labelColumn = requireColumn(frame, this.schema.label.name);
      for (let row = 0; row < frame.rows; row++) if (isMissingAt(labelColumn, row)) keep[row] = 0;
    }
    if (missing === "drop") {
      for (const source of sources) {
        const isCodes = source instanceof Int32Array;
        for (let row = 0; row < frame.rows; row++) {
          const v = source[row] as number;
          if (isCodes ? v === MISSING : isMissingNumber(v)) keep[row] = 0;
        }
      }
    }
    let rows = 0;
    for (let row = 0; row < frame.rows; row++) rows += keep[row] as number;
    const rowIndex = new Int32Array(rows);
    for (let row = 0, k = 0; row < frame.rows; row++) if (keep[row] === 1) rowIndex[k++] = row;

    const width = this.features;
    const x = new Float64Array(rows * width);
    inputs.forEach((input, i) => {
      const source = sources[i] as Float64Array | Int32Array;
      if (input.kind === "numeric") {
        const fill = input.replacement ?? Number.NaN;
        for (let k = 0, at = input.offset; k < rows; k++, at += width) {
          const v = source[rowIndex[k] as number] as number;
          x[at] = isMissingNumber(v) ? fill : v;
        }
        return;
      }
      const fillCode = input.replacement === null ? MISSING : input.levels.indexOf(input.replacement);
      for (let k = 0, at = input.offset; k < rows; k++, at += width) {
        let code = source[rowIndex[k] as number] as number;
        if (code === MISSING) code = fillCode;
        if (oneHot) x[at + code] = 1;
        else x[at] = code;
      }
    });
    return { x, rows, features: width, rowIndex };
  }

  /** Schema level codes of a frame column (categorical, or numeric matched by its text). */
  #schemaCodes(input: CategoricalFeature, i: number, column: DataColumn): Int32Array {
    const index = this.#levelIndex[i] as Map<string, number>;
    const unseen = input.levels.length;
    if (column.kind === "categorical") {
      const lut = column.levels.map((level) => index.get(level) ?? unseen);
      return column.codes.map((code) => (code < 0 ? MISSING : (lut[code] as number)));
    }
    const out = new Int32Array(column.values.length);
    for (let row = 0; row < out.length; row++) {
      const v = column.values[row] as number;
      out[row] = Number.isNaN(v) ? MISSING : (index.get(String(v)) ?? unseen);
    }
    return out;
  }

  labels(frame: DataFrame, rowIndex: Int32Array): Float64Array {
    const label = this.schema.label;
    const column = requireColumn(frame, label.name);
    const out = new Float64Array(rowIndex.length);
    const valueOf = labelReader(column, label);
    for (let k = 0; k < rowIndex.length; k++) out[k] = valueOf(rowIndex[k] as number);
    return out;
  }

  trainingMatrix(frame: DataFrame): TrainingMatrix & { readonly rowIndex: Int32Array } {
    const matrix = this.transform(frame, { purpose: "train" });
    return { ...matrix, y: this.labels(frame, matrix.rowIndex) };
  }

  classLabel(value: 0 | 1): string {
    const classes = this.schema.label.classes;
    if (classes === undefined) throw new DatasetError("InvalidArgument", "a regression label has no classes");
    return classes[value];
  }
}

/** Reads one row's label as the learner's number, failing with `LabelInvalid` naming the row. */
function labelReader(column: DataColumn, label: LabelSchema): (row: number) => number {
  const fail = (row: number, problem: string): never => {
    throw new DatasetError("LabelInvalid", `row ${row + 1}: label "${label.name}" ${problem}`, { columnName: label.name });
  };
  // The label's text per row: numbers as String(), which is how classes of a numeric label are kept.
  const text = (row: number): string | undefined => {
    if (column.kind === "numeric") {
      const v = column.values[row] as number;
      return Number.isNaN(v) ? undefined : String(v);
    }
    const code = column.codes[row] as number;
    return code < 0 ? undefined : column.levels[code];
  };
  if (label.task === "regression") {
    return (row) => {
      const value = column.kind === "numeric" ? (column.values[row] as number) : parseNumberText(text(row) ?? "");
      if (Number.isNaN(value)) fail(row, text(row) === undefined ? "is missing" : `"${text(row) ?? ""}" is not a number`);
      return value;
    };
  }
  const classes = label.classes as readonly [string, string];
  const classValues = label.classValues;
  return (row) => {
    if (column.kind === "numeric" && classValues !== undefined) {
      const v = column.values[row] as number;
      if (v === classValues[1]) return 1;
      if (v === classValues[0]) return 0;
    } else {
      const t = text(row);
      if (t === classes[1]) return 1;
      if (t === classes[0]) return 0;
      if (classValues !== undefined && t !== undefined) {
        const v = parseNumberText(t);
        if (v === classValues[1]) return 1;
        if (v === classValues[0]) return 0;
      }
    }
    const t = text(row);
    return fail(row, t === undefined ? "is missing" : `"${t}" is not one of the two classes (${classes[0]}, ${classes[1]})`);
  };
}

function isMissingAt(column: DataColumn, row: number): boolean {
  return column.kind === "numeric" ? isMissingNumber(column.values[row] as number) : (column.codes[row] as number) < 0;
}
