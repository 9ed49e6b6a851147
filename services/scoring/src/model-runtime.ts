import { z } from "zod";

/** One column of a web service's input schema: its name and whether it holds numbers or text. */
export const InputColumn = z.object({
  name: z.string().min(1).max(256),
  kind: z.enum(["numeric", "categorical"]),
});
export type InputColumn = z.infer<typeof InputColumn>;

/** A cell of an RRS request: the classic format sends strings, clients also send numbers and booleans. */
export type Cell = string | number | boolean | null;

/** A scored table, values already as the strings RRS answers with. */
export interface ScoredTable {
  readonly columnNames: readonly string[];
  /** Classic `ColumnTypes` (`String`, `Double`, `Int32`, …), one per column. */
  readonly columnTypes: readonly string[];
  readonly values: readonly (readonly (string | null)[])[];
}

/** What the model says about itself (from the .ilearner header). */
export interface ModelInfo {
  readonly learner: string;
  readonly task: "binary" | "regression";
  /** Hex SHA-256 stored in the file (its content id). */
  readonly fileSha256: string;
  /** The trainer's job that produced it, when recorded. */
  readonly jobId?: string;
}

/**
 * A verified, warmed model ready to score: what the hot path and batch scoring call. It is immutable,
 * so a request that captured it keeps scoring with it while another model is swapped in.
 */
export interface LoadedModel {
  readonly info: ModelInfo;
  /** The input columns the model needs (its feature schema's inputs). */
  readonly inputColumns: readonly InputColumn[];
  /** Problems that stop `schema` from feeding the model (empty = compatible). */
  compatibility(schema: readonly InputColumn[]): string[];
  /**
   * Scores rows given column by name (extra columns are ignored). Throws {@link ScoreInputError}
   * for a missing column or a value that is not a number where one is needed.
   */
  scoreRows(columnNames: readonly string[], rows: readonly (readonly Cell[])[]): ScoredTable;
  /** Batch scoring: a CSV with a header row in, the same rows with the scored columns appended out. */
  scoreCsv(csv: Buffer, signal?: AbortSignal): Promise<Buffer>;
}

/**
 * Loads models: decode the bytes, verify format and checksum, rebuild the learner, warm it up (so the
 * first request after a swap is as fast as the rest). Implemented over @retrain/ml by
 * `createMlRuntime`; the rest of the service only knows this interface.
 */
export interface ModelRuntime {
  /** Throws {@link ModelLoadError} when the bytes are not a model this host can serve. */
  load(bytes: Buffer): Promise<LoadedModel>;
}

/** Why a model could not be loaded: `ModelUnreadable` (format, checksum, truncation) or `ModelIncompatible`. */
export class ModelLoadError extends Error {
  override readonly name = "ModelLoadError";
  constructor(
    readonly code: "ModelUnreadable" | "ModelIncompatible",
    message: string,
    /** The format's own reason (e.g. `ChecksumMismatch`), when there is one. */
    readonly reason?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A scoring request's data does not fit the model: a missing column or an unparsable value. */
export class ScoreInputError extends Error {
  override readonly name = "ScoreInputError";
  constructor(
    readonly code: "InputParseError" | "MissingInputColumns",
    message: string,
    readonly column?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
