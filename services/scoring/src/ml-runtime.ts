// The ModelRuntime over @retrain/ml: .ilearner decode (format + checksum), learner rebuild,
// featurization as at training time, Studio's Score Model columns.
import {
  checkCompatible,
  decodeIlearner,
  featurizerFromSchema,
  isDatasetError,
  isIlearnerError,
  isLearnerName,
  learners,
  readCsv,
  scoreModel,
  writeCsv,
  SCORED_LABELS,
  SCORED_PROBABILITIES,
  type FeatureSchema,
  type Featurizer,
  type TrainedModel,
} from "@retrain/ml";
import { ModelLoadError, ScoreInputError, type Cell, type InputColumn, type LoadedModel, type ModelInfo, type ModelRuntime, type ScoredTable } from "./model-runtime.js";

/** Options of {@link createMlRuntime}. */
export interface MlRuntimeOptions {
  /** Scores of a synthetic row run after loading, so the first real request runs warm code. Default 200. */
  readonly warmupRuns?: number;
}

/** The ModelRuntime backed by @retrain/ml. */
export function createMlRuntime(options: MlRuntimeOptions = {}): ModelRuntime {
  const warmupRuns = options.warmupRuns ?? 200;
  return {
    async load(bytes) {
      let file: ReturnType<typeof decodeIlearner>;
      try {
        file = decodeIlearner(bytes);
      } catch (error) {
        if (isIlearnerError(error)) throw new ModelLoadError("ModelUnreadable", `The model is not a readable .ilearner (${error.code}): ${error.message}`, error.code, { cause: error });
        throw new ModelLoadError("ModelUnreadable", `The model could not be read: ${(error as Error).message}`, undefined, { cause: error });
      }
      if (!isLearnerName(file.learner)) throw new ModelLoadError("ModelUnreadable", `The model's learner '${String(file.learner)}' is not one this host can run.`, "UnknownLearner");
      let model: TrainedModel;
      let featurizer: Featurizer;
      try {
        model = learners[file.learner].fromState(file.state);
        featurizer = featurizerFromSchema(file.featureSchema);
      } catch (error) {
        throw new ModelLoadError("ModelUnreadable", `The model's state is invalid: ${(error as Error).message}`, "Corrupt", { cause: error });
      }
      if (model.features !== featurizer.features) {
        throw new ModelLoadError("ModelUnreadable", `The model expects ${model.features} features; its feature schema makes ${featurizer.features}.`, "Corrupt");
      }
      const loaded = new MlModel(
        { learner: file.learner, task: file.task, fileSha256: file.sha256, ...(file.lineage.jobId !== undefined ? { jobId: file.lineage.jobId } : {}) },
        model,
        featurizer,
      );
      loaded.warm(warmupRuns);
      return loaded;
    },
  };
}

// 10^0 … 10^22: the powers of ten a double holds exactly (written as literals, which parse exactly).
const EXACT_POWERS_OF_TEN = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * A plain decimal (`-12.5`, `0.25`, `7`) read by hand, or NaN for any other text. RRS sends every
 * number as a string, so this runs per cell. With at most 15 digits the digits form an exact integer
 * and the scale an exact power of ten, so one division (correctly rounded) gives the same double as
 * `Number(text)` (Clinger's fast path); anything longer or fancier is left to `Number`.
 */
export function plainDecimal(text: string): number {
  const length = text.length;
  let at = 0;
  const negative = length > 0 && text.charCodeAt(0) === 0x2d;
  if (negative) at = 1;
  if (at >= length || length - at > 16) return Number.NaN;
  let digits = 0;
  let scale = -1;
  let mantissa = 0;
  for (; at < length; at++) {
    const code = text.charCodeAt(at);
    if (code >= 0x30 && code <= 0x39) {
      mantissa = mantissa * 10 + (code - 0x30);
      digits++;
    } else if (code === 0x2e && scale < 0 && digits > 0 && at < length - 1) {
      scale = 0;
      continue;
    } else return Number.NaN;
    if (scale >= 0) scale++;
  }
  if (digits > 15) return Number.NaN;
  const magnitude = scale > 0 ? mantissa / (EXACT_POWERS_OF_TEN[scale] as number) : mantissa;
  return negative ? -magnitude : magnitude;
}

function cellNumber(value: Cell, column: string): number {
  if (typeof value === "string") {
    const plain = plainDecimal(value);
    if (plain === plain) return plain;
  }
  if (value === null) return Number.NaN;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  const text = value.trim();
  if (text === "") return Number.NaN;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new ScoreInputError("InputParseError", `Column '${column}' needs numbers; '${value}' is not one.`, column);
  return n;
}

function cellText(value: Cell): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value === "" ? null : value;
  return String(value);
}

/** Where each schema input sits in a request's columns, for one ColumnNames signature. */
type ColumnPlan = Int32Array;

/** A ColumnNames signature seen before and its plan. */
interface KnownPlan {
  readonly names: readonly string[];
  readonly plan: ColumnPlan;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const MAX_PLANS = 32;

/**
 * A model loaded from an .ilearner: immutable once built (a request that captured it may keep using
 * it after a swap). Rows from RRS are featurized straight into the design matrix by the rules of
 * the feature schema (imputation with the stored replacement, one-hot or ordinal codes, the unseen
 * bucket), the same rules `featurizer.transform` applies to a frame; batch scoring goes through
 * frames and `scoreModel`. A test checks that both agree cell for cell.
 */
class MlModel implements LoadedModel {
  readonly inputColumns: readonly InputColumn[];
  readonly #schema: FeatureSchema;
  readonly #labelType: string;
  readonly #levelIndex: readonly (Map<string, number> | undefined)[];
  // Compared name by name rather than keyed by a joined string: no string is built or hashed per request.
  readonly #plans: KnownPlan[] = [];
  readonly #columnTypes: readonly string[];
  readonly #columnNames: readonly string[];

  constructor(
    readonly info: ModelInfo,
    private readonly model: TrainedModel,
    private readonly featurizer: Featurizer,
  ) {
    this.#schema = featurizer.schema;
    this.inputColumns = this.#schema.inputs.map((input) => ({ name: input.name, kind: input.kind }));
    const label = this.#schema.label;
    this.#labelType =
      label.task === "regression" ? "Double" : label.kind === "categorical" ? "String" : (label.classValues ?? [0, 1]).every((v) => Number.isInteger(v)) ? "Int32" : "Double";
    this.#levelIndex = this.#schema.inputs.map((input) => (input.kind === "categorical" ? new Map(input.levels.map((level, i) => [level, i])) : undefined));
    this.#columnNames = label.task === "regression" ? [SCORED_LABELS] : [SCORED_LABELS, SCORED_PROBABILITIES];
    this.#columnTypes = label.task === "regression" ? [this.#labelType] : [this.#labelType, "Double"];
  }

  compatibility(schema: readonly InputColumn[]): string[] {
    return checkCompatible(this.#schema, schema).map((p) => p.message);
  }

  /** Scores a synthetic row (each input's replacement value or first level) a number of times. */
  warm(runs: number): void {
    const names = this.#schema.inputs.map((i) => i.name);
    const row: Cell[] = this.#schema.inputs.map((input) => (input.kind === "numeric" ? (input.replacement ?? 0) : (input.replacement ?? input.levels[0] ?? "x")));
    for (let i = 0; i < runs; i++) this.scoreRows(names, [row]);
  }

  /** The position of each schema input in `columnNames` (cached per signature: clients repeat theirs). */
  #plan(columnNames: readonly string[]): ColumnPlan {
    for (const known of this.#plans) if (sameNames(known.names, columnNames)) return known.plan;
    const inputs = this.#schema.inputs;
    const plan = new Int32Array(inputs.length);
    const missing: string[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const name = (inputs[i] as FeatureSchema["inputs"][number]).name;
      const at = columnNames.indexOf(name);
      if (at < 0) missing.push(name);
      plan[i] = at;
    }
    if (missing.length > 0) {
      throw new ScoreInputError("MissingInputColumns", `The input lacks the column(s) the model needs: ${missing.join(", ")}.`, missing[0]);
    }
    if (this.#plans.length >= MAX_PLANS) this.#plans.length = 0;
    this.#plans.push({ names: [...columnNames], plan });
    return plan;
  }

  scoreRows(columnNames: readonly string[], rows: readonly (readonly Cell[])[]): ScoredTable {
    const plan = this.#plan(columnNames);
    const { inputs, oneHot } = this.#schema;
    const width = this.featurizer.features;
    const x = new Float64Array(rows.length * width);
    // Rows a `drop` schema cannot score (a missing value without replacement) get no score.
    const scorable = new Uint8Array(rows.length).fill(1);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as readonly Cell[];
      const base = r * width;
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i] as FeatureSchema["inputs"][number];
        const cell = row[plan[i] as number] ?? null;
        if (input.kind === "numeric") {
          let value = cellNumber(cell, input.name);
          if (Number.isNaN(value)) {
            if (input.replacement === null) {
              scorable[r] = 0;
              continue;
            }
            value = input.replacement;
          }
          x[base + input.offset] = value;
          continue;
        }
        let text = cellText(cell);
        if (text === null) {
          if (input.replacement === null) {
            scorable[r] = 0;
            continue;
          }
          text = input.replacement;
        }
        const code = (this.#levelIndex[i] as Map<string, number>).get(text) ?? input.levels.length;
        if (oneHot) x[base + input.offset + code] = 1;
        else x[base + input.offset] = code;
      }
    }
    const predictions = this.model.predict(x, rows.length);
    const label = this.#schema.label;
    const values: (string | null)[][] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const p = predictions[r] as number;
      if (scorable[r] === 0 || Number.isNaN(p)) {
        values[r] = label.task === "regression" ? [null] : [null, null];
      } else if (label.task === "regression") {
        values[r] = [String(p)];
      } else {
        const c = p >= 0.5 ? 1 : 0;
        values[r] = [label.classValues !== undefined ? String(label.classValues[c]) : (label.classes as readonly [string, string])[c], String(p)];
      }
    }
    return { columnNames: this.#columnNames, columnTypes: this.#columnTypes, values };
  }

  async scoreCsv(csv: Buffer, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    try {
      const frame = await readCsv(csv);
      signal?.throwIfAborted();
      return Buffer.from(writeCsv(scoreModel(this.model, this.featurizer, frame)), "utf8");
    } catch (error) {
      if (isDatasetError(error)) {
        const code = error.code === "ColumnNotFound" ? "MissingInputColumns" : "InputParseError";
        throw new ScoreInputError(code, error.message, error.columnName, { cause: error });
      }
      throw error;
    }
  }
}
