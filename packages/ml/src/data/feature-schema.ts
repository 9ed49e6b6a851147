import type { TaskKind } from "../model.js";
import type { MissingStrategy } from "./clean-missing.js";
import { DatasetError } from "./errors.js";
import type { ColumnKind } from "./frame.js";

/** Version of the {@link FeatureSchema} JSON shape; bumped on any incompatible change. */
export const FEATURE_SCHEMA_VERSION = 1;

/** Name suffix of the one-hot column that is 1 for a level not seen in training. */
export const UNSEEN_LEVEL = "__unseen__";

/** A numeric input column and the value that replaces its missing values (`null` under `drop`). */
export interface NumericFeature {
  readonly name: string;
  readonly kind: "numeric";
  readonly replacement: number | null;
  /** First featurized column it fills. */
  readonly offset: number;
  readonly width: 1;
}

/**
 * A categorical input column: its training levels (sorted), the level that replaces a missing value
 * (`null` under `drop`), and where it lands in the featurized row — `levels.length + 1` one-hot
 * columns (the last for unseen levels), or one ordinal column (level index; unseen = `levels.length`).
 */
export interface CategoricalFeature {
  readonly name: string;
  readonly kind: "categorical";
  readonly levels: readonly string[];
  readonly replacement: string | null;
  readonly offset: number;
  readonly width: number;
}

/** One input column of the featurizer. */
export type InputFeature = NumericFeature | CategoricalFeature;

/** The label: its column, task and, for a binary task, the class texts (and numbers) of 0 and 1. */
export interface LabelSchema {
  readonly name: string;
  readonly task: TaskKind;
  readonly kind: ColumnKind;
  /** Binary: the texts of class 0 and class 1 ("0"/"1", or the two categorical levels). */
  readonly classes?: readonly [string, string];
  /** Binary with a numeric label: the label values of class 0 and class 1. */
  readonly classValues?: readonly [number, number];
}

/**
 * Everything needed to featurize new data as at training time, as plain JSON: it goes into the
 * .ilearner header, and lets a scoring host check an input's columns before scoring.
 */
export interface FeatureSchema {
  readonly version: typeof FEATURE_SCHEMA_VERSION;
  readonly missing: MissingStrategy;
  readonly oneHot: boolean;
  readonly inputs: readonly InputFeature[];
  readonly label: LabelSchema;
  /** Names of the featurized columns: `name` (numeric, ordinal), `name=level` and `name=__unseen__` (one-hot). */
  readonly outputs: readonly string[];
}

/** One reason an input does not fit a schema. */
export interface SchemaProblem {
  readonly column: string;
  /** `missing`: the column is absent; `kind`: it is categorical where the model needs numbers. */
  readonly problem: "missing" | "kind";
  readonly expected: ColumnKind;
  readonly actual?: ColumnKind;
  readonly message: string;
}

/**
 * The problems that would stop `inputColumns` from being featurized with `schema` (empty = compatible).
 * A numeric column where a categorical one is expected is fine: its values are matched as text.
 * The label column is not required.
 */
export function checkCompatible(schema: FeatureSchema, inputColumns: readonly { readonly name: string; readonly kind: ColumnKind }[]): SchemaProblem[] {
  const byName = new Map(inputColumns.map((c) => [c.name, c.kind]));
  const problems: SchemaProblem[] = [];
  for (const input of schema.inputs) {
    const actual = byName.get(input.name);
    if (actual === undefined) {
      problems.push({ column: input.name, problem: "missing", expected: input.kind, message: `column "${input.name}" (${input.kind}) is missing` });
    } else if (input.kind === "numeric" && actual === "categorical") {
      problems.push({
        column: input.name,
        problem: "kind",
        expected: "numeric",
        actual,
        message: `column "${input.name}" is categorical; the model was trained with it numeric`,
      });
    }
  }
  return problems;
}

/** Validates JSON (e.g. from an .ilearner header) as a {@link FeatureSchema}; fails with `SchemaInvalid` naming the path. */
export function parseFeatureSchema(value: unknown): FeatureSchema {
  const root = record(value, "schema");
  if (root.version !== FEATURE_SCHEMA_VERSION) invalid("schema.version", `must be ${FEATURE_SCHEMA_VERSION}; got ${JSON.stringify(root.version)}`);
  const missing = oneOf(root.missing, ["mean", "median", "mode", "drop"] as const, "schema.missing");
  const oneHot = bool(root.oneHot, "schema.oneHot");
  const inputsRaw = list(root.inputs, "schema.inputs");
  let offset = 0;
  const names = new Set<string>();
  const inputs = inputsRaw.map((raw, i): InputFeature => {
    const path = `schema.inputs[${i}]`;
    const input = record(raw, path);
    const name = str(input.name, `${path}.name`);
    if (names.has(name)) invalid(`${path}.name`, `repeats "${name}"`);
    names.add(name);
    if (input.offset !== offset) invalid(`${path}.offset`, `must be ${offset}; got ${JSON.stringify(input.offset)}`);
    const kind = oneOf(input.kind, ["numeric", "categorical"] as const, `${path}.kind`);
    if (kind === "numeric") {
      if (input.width !== 1) invalid(`${path}.width`, "must be 1");
      const replacement = input.replacement === null ? null : finite(input.replacement, `${path}.replacement`);
      offset += 1;
      return { name, kind, replacement, offset: offset - 1, width: 1 };
    }
    const levels = list(input.levels, `${path}.levels`).map((l, k) => str(l, `${path}.levels[${k}]`));
    if (new Set(levels).size !== levels.length) invalid(`${path}.levels`, "has a repeated level");
    const width = oneHot ? levels.length + 1 : 1;
    if (input.width !== width) invalid(`${path}.width`, `must be ${width}; got ${JSON.stringify(input.width)}`);
    const replacement = input.replacement === null ? null : str(input.replacement, `${path}.replacement`);
    if (replacement !== null && !levels.includes(replacement)) invalid(`${path}.replacement`, `"${replacement}" is not one of the levels`);
    const start = offset;
    offset += width;
    return { name, kind, levels, replacement, offset: start, width };
  });
  const labelRaw = record(root.label, "schema.label");
  const label = parseLabel(labelRaw);
  if (names.has(label.name)) invalid("schema.label.name", `"${label.name}" is also an input`);
  const outputs = list(root.outputs, "schema.outputs").map((o, k) => str(o, `schema.outputs[${k}]`));
  if (outputs.length !== offset) invalid("schema.outputs", `has ${outputs.length} names; the inputs fill ${offset} columns`);
  return { version: FEATURE_SCHEMA_VERSION, missing, oneHot, inputs, label, outputs };
}

function parseLabel(raw: { readonly [key: string]: unknown }): LabelSchema {
  const name = str(raw.name, "schema.label.name");
  const task = oneOf(raw.task, ["binary", "regression"] as const, "schema.label.task");
  const kind = oneOf(raw.kind, ["numeric", "categorical"] as const, "schema.label.kind");
  if (task === "regression") {
    if (kind !== "numeric") invalid("schema.label.kind", "a regression label must be numeric");
    return { name, task, kind };
  }
  const classes = list(raw.classes, "schema.label.classes").map((c, k) => str(c, `schema.label.classes[${k}]`));
  if (classes.length !== 2 || classes[0] === classes[1]) invalid("schema.label.classes", "must be two different texts");
  const pair: readonly [string, string] = [classes[0] as string, classes[1] as string];
  if (kind === "categorical") return { name, task, kind, classes: pair };
  const values = list(raw.classValues, "schema.label.classValues").map((v, k) => finite(v, `schema.label.classValues[${k}]`));
  if (values.length !== 2 || values[0] === values[1]) invalid("schema.label.classValues", "must be two different numbers");
  return { name, task, kind, classes: pair, classValues: [values[0] as number, values[1] as number] };
}

function invalid(path: string, problem: string): never {
  throw new DatasetError("SchemaInvalid", `feature schema: ${path} ${problem}`);
}

function record(value: unknown, path: string): { readonly [key: string]: unknown } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) invalid(path, "must be an object");
  return value as { readonly [key: string]: unknown };
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) invalid(path, "must be an array");
  return value as readonly unknown[];
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string") invalid(path, "must be a string");
  return value as string;
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") invalid(path, "must be a boolean");
  return value as boolean;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) invalid(path, "must be a finite number");
  return value as number;
}

function oneOf<const T extends readonly string[]>(value: unknown, options: T, path: string): T[number] {
  if (typeof value !== "string" || !options.includes(value)) invalid(path, `must be one of ${options.join(", ")}; got ${JSON.stringify(value)}`);
  return value as T[number];
}
