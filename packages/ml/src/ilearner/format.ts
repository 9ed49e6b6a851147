import { createHash } from "node:crypto";
import { isDatasetError } from "../data/errors.js";
import { parseFeatureSchema, type FeatureSchema } from "../data/feature-schema.js";
import type { JsonValue, LearnerName, ModelState, TaskKind } from "../model.js";
import { IlearnerError } from "./errors.js";

// The .ilearner byte layout (docs/ilearner-format.md has the table):
//   0  "RTLN"   4  version u8   5  reserved ×3   8  header length H u32le   12 reserved u32
//   16 body length B u64le (= offset of the checksum)   24 JSON header (H bytes), space-padded to 8
//   arrays, each 8-aligned, little-endian   B  SHA-256 of bytes [0, B)

/** The format version this library writes and reads. */
export const ILEARNER_FORMAT_VERSION = 1;

const MAGIC = [0x52, 0x54, 0x4c, 0x4e] as const; // "RTLN"
const PRELUDE_BYTES = 24;
const CHECKSUM_BYTES = 32;
const ALIGN = 8;

/** Where a trained model came from: enough to reproduce it, or to tell two models apart. */
export interface IlearnerLineage {
  /** SHA-256 (lowercase hex) of the training dataset's bytes. */
  readonly datasetSha256: string;
  /** Rows the learner was trained on. */
  readonly rows: number;
  /** Seed of the split and of any randomness in the learner. */
  readonly seed: number;
  /** ISO 8601 time the training finished. */
  readonly trainedAt: string;
  /** Version of `@retrain/ml` that trained it. */
  readonly libraryVersion: string;
  readonly jobId?: string;
}

/** What {@link encodeIlearner} stores. */
export interface IlearnerInput {
  readonly learner: LearnerName;
  readonly task: TaskKind;
  readonly parameters: { readonly [name: string]: number | string | boolean };
  readonly state: ModelState;
  readonly featureSchema: FeatureSchema;
  readonly lineage: IlearnerLineage;
}

/** Element types an array may have in the file. */
export type IlearnerDtype = "float64" | "float32" | "int32" | "uint8";

/** One entry of the header's array directory. */
export interface IlearnerArrayEntry {
  readonly name: string;
  readonly dtype: IlearnerDtype;
  /** Byte offset from the start of the array section (a multiple of 8). */
  readonly offset: number;
  /** Number of elements. */
  readonly length: number;
}

/** A decoded .ilearner: what was stored, plus the file's version, size, checksum and array directory. */
export interface IlearnerFile extends IlearnerInput {
  readonly formatVersion: number;
  readonly byteLength: number;
  /** The stored SHA-256 trailer (lowercase hex): a content id for the model. */
  readonly sha256: string;
  readonly arrays: readonly IlearnerArrayEntry[];
}

type StateArray = ModelState["arrays"][string];

const DTYPES: { readonly [dtype in IlearnerDtype]: { readonly size: number; readonly make: (buffer: ArrayBuffer, offset: number, length: number) => StateArray } } = {
  float64: { size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  float32: { size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  int32: { size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  uint8: { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
};

const KNOWN_LEARNERS = [
  "Two-Class Logistic Regression",
  "Linear Regression",
  "Two-Class Boosted Decision Tree",
  "Boosted Decision Tree Regression",
] as const satisfies readonly LearnerName[];
// Fails to compile when model.ts gains a learner this list lacks.
const LEARNERS_COMPLETE: Exclude<LearnerName, (typeof KNOWN_LEARNERS)[number]> extends never ? true : false = true;
void LEARNERS_COMPLETE;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(array: StateArray): IlearnerDtype {
  if (array instanceof Float64Array) return "float64";
  if (array instanceof Float32Array) return "float32";
  if (array instanceof Int32Array) return "int32";
  return "uint8";
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * Writes a trained model resource: prelude, JSON header (learner, task, parameters, model metadata,
 * feature schema, lineage, array directory), the state's arrays as raw little-endian bytes, SHA-256.
 */
export function encodeIlearner(input: IlearnerInput): Buffer {
  checkJson(input.parameters, "parameters");
  checkJson(input.state.meta, "state.meta");
  checkLineage(input.lineage);
  let offset = 0;
  const entries: IlearnerArrayEntry[] = [];
  const sources: StateArray[] = [];
  for (const [name, array] of Object.entries(input.state.arrays)) {
    entries.push({ name, dtype: dtypeOf(array), offset, length: array.length });
    sources.push(array);
    offset = align(offset + array.byteLength);
  }
  const header = {
    format: "retrain.ilearner",
    formatVersion: ILEARNER_FORMAT_VERSION,
    learner: input.learner,
    task: input.task,
    parameters: input.parameters,
    model: { kind: input.state.kind, meta: input.state.meta },
    featureSchema: input.featureSchema,
    lineage: input.lineage,
    arrays: entries,
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const arraysStart = align(PRELUDE_BYTES + json.length);
  const bodyLength = arraysStart + offset;
  const out = Buffer.alloc(bodyLength + CHECKSUM_BYTES);
  out.set(MAGIC, 0);
  out[4] = ILEARNER_FORMAT_VERSION;
  out.writeUInt32LE(json.length, 8);
  out.writeBigUInt64LE(BigInt(bodyLength), 16);
  out.set(json, PRELUDE_BYTES);
  out.fill(0x20, PRELUDE_BYTES + json.length, arraysStart); // JSON whitespace
  entries.forEach((entry, i) => {
    const array = sources[i] as StateArray;
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    const at = arraysStart + entry.offset;
    out.set(bytes, at);
    if (!LITTLE_ENDIAN) swapBytes(out, at, array.length, DTYPES[entry.dtype].size);
  });
  createHash("sha256").update(out.subarray(0, bodyLength)).digest().copy(out, bodyLength);
  return out;
}

/**
 * Reads an .ilearner, verifying magic, version, length and checksum before trusting anything in it.
 * Arrays are views on `bytes` where their alignment allows (no copy), else copies.
 */
export function decodeIlearner(bytes: Uint8Array): IlearnerFile {
  const size = bytes.length;
  const magicSeen = Math.min(size, MAGIC.length);
  for (let i = 0; i < magicSeen; i++) {
    if (bytes[i] !== MAGIC[i]) throw new IlearnerError("NotAnIlearner", "not an .ilearner: the file does not start with RTLN");
  }
  if (size < 5) throw new IlearnerError("Truncated", `truncated .ilearner: ${size} bytes, fewer than the ${PRELUDE_BYTES}-byte prelude`);
  const version = bytes[4] as number;
  if (version !== ILEARNER_FORMAT_VERSION) {
    throw new IlearnerError("UnknownFormatVersion", `.ilearner format version ${version} is not supported; this library reads version ${ILEARNER_FORMAT_VERSION}`);
  }
  if (size < PRELUDE_BYTES) throw new IlearnerError("Truncated", `truncated .ilearner: ${size} bytes, fewer than the ${PRELUDE_BYTES}-byte prelude`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, size);
  const headerLength = view.readUInt32LE(8);
  const declaredBody = view.readBigUInt64LE(16);
  const expected = declaredBody + BigInt(CHECKSUM_BYTES);
  if (expected > BigInt(size)) {
    throw new IlearnerError("Truncated", `truncated .ilearner: ${size} bytes; its prelude says ${expected.toString()}`);
  }
  if (expected < BigInt(size)) {
    throw new IlearnerError("Corrupt", `corrupt .ilearner: ${size} bytes; its prelude says ${expected.toString()} (trailing bytes)`);
  }
  const bodyLength = Number(declaredBody);
  const stored = view.subarray(bodyLength, size);
  const actual = createHash("sha256").update(view.subarray(0, bodyLength)).digest();
  if (!actual.equals(stored)) {
    throw new IlearnerError("ChecksumMismatch", `.ilearner checksum mismatch: stored ${stored.toString("hex")}, content hashes to ${actual.toString("hex")}`);
  }
  if (view[5] !== 0 || view[6] !== 0 || view[7] !== 0 || view.readUInt32LE(12) !== 0) {
    throw new IlearnerError("Corrupt", "corrupt .ilearner: reserved prelude bytes are not zero");
  }
  const arraysStart = align(PRELUDE_BYTES + headerLength);
  if (arraysStart > bodyLength) {
    throw new IlearnerError("Corrupt", `corrupt .ilearner: the ${headerLength}-byte header runs past the body (${bodyLength} bytes)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(view.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headerLength)));
  } catch (error) {
    throw new IlearnerError("Corrupt", "corrupt .ilearner: the header is not valid UTF-8 JSON", { cause: error });
  }
  const header = readHeader(parsed);
  const arrays: { [name: string]: StateArray } = {};
  const spans: [number, number][] = [];
  for (const entry of header.arrays) {
    const { size: elementSize, make } = DTYPES[entry.dtype];
    const start = arraysStart + entry.offset;
    const end = start + entry.length * elementSize;
    if (end > bodyLength) {
      throw new IlearnerError("Corrupt", `corrupt .ilearner: array "${entry.name}" (${entry.dtype}[${entry.length}] at ${start}) ends at ${end}, past the body's ${bodyLength} bytes`);
    }
    spans.push([start, end]);
    const absolute = bytes.byteOffset + start;
    let array: StateArray;
    if (LITTLE_ENDIAN && absolute % elementSize === 0) {
      array = make(bytes.buffer as ArrayBuffer, absolute, entry.length);
    } else {
      const copy = new Uint8Array(bytes.subarray(start, end));
      if (!LITTLE_ENDIAN) swapBytes(copy, 0, entry.length, elementSize);
      array = make(copy.buffer, 0, entry.length);
    }
    arrays[entry.name] = array;
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if ((spans[i] as [number, number])[0] < (spans[i - 1] as [number, number])[1]) {
      throw new IlearnerError("Corrupt", "corrupt .ilearner: two arrays overlap");
    }
  }
  return {
    formatVersion: version,
    byteLength: size,
    sha256: stored.toString("hex"),
    learner: header.learner,
    task: header.task,
    parameters: header.parameters,
    state: { kind: header.kind, meta: header.meta, arrays },
    featureSchema: header.featureSchema,
    lineage: header.lineage,
    arrays: header.arrays,
  };
}

interface Header {
  readonly learner: LearnerName;
  readonly task: TaskKind;
  readonly parameters: { readonly [name: string]: number | string | boolean };
  readonly kind: ModelState["kind"];
  readonly meta: { [key: string]: JsonValue };
  readonly featureSchema: FeatureSchema;
  readonly lineage: IlearnerLineage;
  readonly arrays: readonly IlearnerArrayEntry[];
}

function corrupt(path: string, problem: string): never {
  throw new IlearnerError("Corrupt", `corrupt .ilearner header: ${path} ${problem}`);
}

function object(value: unknown, path: string): { readonly [key: string]: unknown } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) corrupt(path, "must be an object");
  return value as { readonly [key: string]: unknown };
}

function text(value: unknown, path: string): string {
  if (typeof value !== "string") corrupt(path, "must be a string");
  return value as string;
}

function count(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) corrupt(path, "must be a non-negative integer");
  return value as number;
}

function member<const T extends readonly string[]>(value: unknown, options: T, path: string): T[number] {
  if (typeof value !== "string" || !options.includes(value)) corrupt(path, `must be one of ${options.join(", ")}; got ${JSON.stringify(value)}`);
  return value as T[number];
}

function readHeader(value: unknown): Header {
  const root = object(value, "header");
  if (root.format !== "retrain.ilearner") corrupt("format", `must be "retrain.ilearner"; got ${JSON.stringify(root.format)}`);
  if (root.formatVersion !== ILEARNER_FORMAT_VERSION) corrupt("formatVersion", `must be ${ILEARNER_FORMAT_VERSION} (as in the prelude); got ${JSON.stringify(root.formatVersion)}`);
  const learner = member(root.learner, KNOWN_LEARNERS, "learner");
  const task = member(root.task, ["binary", "regression"] as const, "task");
  const parametersRaw = object(root.parameters, "parameters");
  const parameters: { [name: string]: number | string | boolean } = {};
  for (const [name, v] of Object.entries(parametersRaw)) {
    if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean") corrupt(`parameters.${name}`, "must be a number, string or boolean");
    parameters[name] = v as number | string | boolean;
  }
  const model = object(root.model, "model");
  const kind = member(model.kind, ["logistic", "linear", "gbdt"] as const, "model.kind");
  const meta = object(model.meta, "model.meta") as { [key: string]: JsonValue };
  let featureSchema: FeatureSchema;
  try {
    featureSchema = parseFeatureSchema(root.featureSchema);
  } catch (error) {
    if (isDatasetError(error)) throw new IlearnerError("Corrupt", `corrupt .ilearner header: ${error.message}`, { cause: error });
    throw error;
  }
  if (featureSchema.label.task !== task) corrupt("featureSchema.label.task", `is ${featureSchema.label.task}; the model's task is ${task}`);
  const lineageRaw = object(root.lineage, "lineage");
  const lineage: IlearnerLineage = {
    datasetSha256: text(lineageRaw.datasetSha256, "lineage.datasetSha256"),
    rows: count(lineageRaw.rows, "lineage.rows"),
    seed: typeof lineageRaw.seed === "number" && Number.isSafeInteger(lineageRaw.seed) ? lineageRaw.seed : corrupt("lineage.seed", "must be an integer"),
    trainedAt: text(lineageRaw.trainedAt, "lineage.trainedAt"),
    libraryVersion: text(lineageRaw.libraryVersion, "lineage.libraryVersion"),
    ...(lineageRaw.jobId === undefined ? {} : { jobId: text(lineageRaw.jobId, "lineage.jobId") }),
  };
  if (!Array.isArray(root.arrays)) corrupt("arrays", "must be an array");
  const names = new Set<string>();
  const arrays = (root.arrays as readonly unknown[]).map((raw, i): IlearnerArrayEntry => {
    const entry = object(raw, `arrays[${i}]`);
    const name = text(entry.name, `arrays[${i}].name`);
    if (names.has(name)) corrupt(`arrays[${i}].name`, `repeats "${name}"`);
    names.add(name);
    const dtype = member(entry.dtype, ["float64", "float32", "int32", "uint8"] as const, `arrays[${i}].dtype`);
    const offset = count(entry.offset, `arrays[${i}].offset`);
    if (offset % ALIGN !== 0) corrupt(`arrays[${i}].offset`, `must be a multiple of ${ALIGN}; got ${offset}`);
    return { name, dtype, offset, length: count(entry.length, `arrays[${i}].length`) };
  });
  return { learner, task, parameters, kind, meta, featureSchema, lineage, arrays };
}

/** Rejects what JSON cannot carry faithfully (NaN and ±Infinity would silently become null). */
function checkJson(value: JsonValue | { readonly [key: string]: JsonValue | number | string | boolean }, path: string): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new IlearnerError("InvalidInput", `cannot store ${path} = ${value}: JSON has no non-finite numbers`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${path}[${i}]`));
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) checkJson(item, `${path}.${key}`);
  }
}

function checkLineage(lineage: IlearnerLineage): void {
  const fail = (problem: string): never => {
    throw new IlearnerError("InvalidInput", `lineage: ${problem}`);
  };
  if (!/^[0-9a-f]{64}$/.test(lineage.datasetSha256)) fail(`datasetSha256 must be 64 lowercase hex digits; got ${JSON.stringify(lineage.datasetSha256)}`);
  if (!Number.isSafeInteger(lineage.rows) || lineage.rows < 0) fail(`rows must be a non-negative integer; got ${lineage.rows}`);
  if (!Number.isSafeInteger(lineage.seed)) fail(`seed must be an integer; got ${lineage.seed}`);
  if (Number.isNaN(Date.parse(lineage.trainedAt))) fail(`trainedAt must be an ISO 8601 time; got ${JSON.stringify(lineage.trainedAt)}`);
}

function swapBytes(bytes: Uint8Array, at: number, length: number, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < length; i++) bytes.subarray(at + i * size, at + (i + 1) * size).reverse();
}
