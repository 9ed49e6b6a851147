import { createHash } from "node:crypto";
import { readCsvBytes } from "../data/csv-read.js";
import { fitFeaturizer } from "../data/featurizer.js";
import { IlearnerError, type IlearnerErrorCode } from "./errors.js";
import { ILEARNER_FORMAT_VERSION, decodeIlearner, encodeIlearner, type IlearnerInput } from "./format.js";
import { ilearnerSummary } from "./summary.js";

const frame = readCsvBytes(Buffer.from("age,workclass,hours,income\n39,State-gov,40,<=50K\n50,Self-emp,13,>50K\n38,Private,,<=50K\n53,Private,40,>50K\n"));
const featureSchema = fitFeaturizer(frame, { label: "income", task: "binary" }).schema;

const input: IlearnerInput = {
  learner: "Two-Class Boosted Decision Tree",
  task: "binary",
  parameters: { numberOfLeaves: 20, learningRate: 0.2, unbalanced: false, note: "défaut" },
  state: {
    kind: "gbdt",
    meta: { trees: 2, bias: -0.25, names: ["a", "b"], nested: { ok: true, none: null } },
    arrays: {
      thresholds: Float64Array.from([0.5, -1e300, Number.MIN_VALUE, 42]),
      leafValues: Float32Array.from([0.25, -0.125, 3.5]),
      features: Int32Array.from([0, 5, -1, 2147483647, -2147483648]),
      flags: Uint8Array.from([1, 0, 255]),
      empty: new Float64Array(0),
    },
  },
  featureSchema,
  lineage: {
    datasetSha256: createHash("sha256").update("dataset").digest("hex"),
    rows: 4,
    seed: 42,
    trainedAt: "2024-05-01T12:00:00.000Z",
    libraryVersion: "0.1.0",
    jobId: "job-1",
  },
};

function code(run: () => unknown): IlearnerErrorCode {
  try {
    run();
  } catch (error) {
    if (error instanceof IlearnerError) return error.code;
    throw error;
  }
  throw new Error("expected an IlearnerError");
}

/** Rewrites a valid file's header JSON, re-sealing lengths and checksum, so only the header is wrong. */
function withHeader(bytes: Buffer, edit: (header: { [key: string]: unknown }) => string): Buffer {
  const headerLength = bytes.readUInt32LE(8);
  const body = Number(bytes.readBigUInt64LE(16));
  const arraysStart = Math.ceil((24 + headerLength) / 8) * 8;
  const header = JSON.parse(bytes.subarray(24, 24 + headerLength).toString("utf8")) as { [key: string]: unknown };
  const json = Buffer.from(edit(header), "utf8");
  const newStart = Math.ceil((24 + json.length) / 8) * 8;
  const arrays = bytes.subarray(arraysStart, body);
  const out = Buffer.alloc(newStart + arrays.length + 32, 0x20);
  bytes.copy(out, 0, 0, 24);
  out.writeUInt32LE(json.length, 8);
  out.writeBigUInt64LE(BigInt(newStart + arrays.length), 16);
  json.copy(out, 24);
  arrays.copy(out, newStart);
  return reseal(out);
}

function reseal(bytes: Buffer): Buffer {
  const body = bytes.length - 32;
  createHash("sha256").update(bytes.subarray(0, body)).digest().copy(bytes, body);
  return bytes;
}

describe(".ilearner encode/decode", () => {
  const encoded = encodeIlearner(input);

  it("round-trips header, schema and every array type", () => {
    expect(encoded.subarray(0, 5)).toEqual(Buffer.from([0x52, 0x54, 0x4c, 0x4e, ILEARNER_FORMAT_VERSION]));
    expect(encoded.length % 8).toBe(0);
    const file = decodeIlearner(encoded);
    expect(file.learner).toBe(input.learner);
    expect(file.task).toBe("binary");
    expect(file.parameters).toEqual(input.parameters);
    expect(file.featureSchema).toEqual(featureSchema);
    expect(file.featureSchema.inputs[1]).toMatchObject({ name: "workclass", kind: "categorical", levels: ["Private", "Self-emp", "State-gov"] });
    expect(file.lineage).toEqual(input.lineage);
    expect(file.state.kind).toBe("gbdt");
    expect(file.state.meta).toEqual(input.state.meta);
    for (const [name, array] of Object.entries(input.state.arrays)) {
      const decoded = file.state.arrays[name];
      expect(decoded?.constructor).toBe(array.constructor);
      expect(Array.from(decoded ?? [])).toEqual(Array.from(array));
    }
    expect(file.sha256).toBe(encoded.subarray(encoded.length - 32).toString("hex"));
    expect(file.byteLength).toBe(encoded.length);
  });

  it("returns views on the input when aligned and copies when not", () => {
    const aligned = decodeIlearner(encoded).state.arrays.thresholds;
    expect(aligned?.buffer).toBe(encoded.buffer);
    const shifted = Buffer.alloc(encoded.length + 1);
    encoded.copy(shifted, 1);
    const unaligned = decodeIlearner(shifted.subarray(1)).state.arrays.thresholds;
    expect(unaligned?.buffer).not.toBe(shifted.buffer);
    expect(Array.from(unaligned ?? [])).toEqual(Array.from(input.state.arrays.thresholds ?? []));
  });

  it("describes a file for humans", () => {
    const summary = ilearnerSummary(decodeIlearner(encoded));
    expect(summary).toContain("Two-Class Boosted Decision Tree (binary) — .ilearner format 1");
    expect(summary).toContain('label: income (categorical; classes "<=50K" (0) / ">50K" (1))');
    expect(summary).toContain("thresholds float64[4]");
    expect(summary).toContain("seed 42");
    expect(summary).toContain("job job-1");
  });

  it("refuses a flipped byte with ChecksumMismatch", () => {
    for (const at of [30, Math.floor(encoded.length / 2), encoded.length - 40, encoded.length - 1]) {
      const damaged = Buffer.from(encoded);
      damaged[at] = (damaged[at] as number) ^ 0x01;
      expect(code(() => decodeIlearner(damaged))).toBe("ChecksumMismatch");
    }
  });

  it("refuses a cut file with Truncated", () => {
    for (const length of [0, 3, 4, 10, 23, 24, 100, encoded.length - 32, encoded.length - 1]) {
      expect(code(() => decodeIlearner(encoded.subarray(0, length)))).toBe("Truncated");
    }
    expect(() => decodeIlearner(encoded.subarray(0, encoded.length - 1))).toThrow(`its prelude says ${encoded.length}`);
  });

  it("refuses an unknown version, wrong magic and trailing bytes", () => {
    const bumped = Buffer.from(encoded);
    bumped[4] = ILEARNER_FORMAT_VERSION + 1;
    expect(code(() => decodeIlearner(bumped))).toBe("UnknownFormatVersion");
    expect(() => decodeIlearner(bumped)).toThrow("format version 2 is not supported; this library reads version 1");
    expect(code(() => decodeIlearner(Buffer.from("PK\u0003\u0004 a zip file")))).toBe("NotAnIlearner");
    expect(code(() => decodeIlearner(Buffer.from("RTLX")))).toBe("NotAnIlearner");
    expect(code(() => decodeIlearner(Buffer.concat([encoded, Buffer.alloc(8)])))).toBe("Corrupt");
  });

  it("refuses, as Corrupt, a sealed file whose header does not parse or points outside the file", () => {
    expect(code(() => decodeIlearner(withHeader(encoded, () => "{not json")))).toBe("Corrupt");
    const outside = withHeader(encoded, (h) => {
      const arrays = h.arrays as { offset: number }[];
      (arrays[0] as { offset: number }).offset = 1 << 20;
      return JSON.stringify(h);
    });
    expect(code(() => decodeIlearner(outside))).toBe("Corrupt");
    expect(() => decodeIlearner(outside)).toThrow('array "thresholds"');
    const misaligned = withHeader(encoded, (h) => {
      (h.arrays as { offset: number }[])[1]!.offset = 4;
      return JSON.stringify(h);
    });
    expect(() => decodeIlearner(misaligned)).toThrow("arrays[1].offset must be a multiple of 8");
    const overlap = withHeader(encoded, (h) => {
      (h.arrays as { offset: number }[])[1]!.offset = 0;
      return JSON.stringify(h);
    });
    expect(() => decodeIlearner(overlap)).toThrow("overlap");
    const learner = withHeader(encoded, (h) => JSON.stringify({ ...h, learner: "Random Forest" }));
    expect(() => decodeIlearner(learner)).toThrow("learner must be one of");
    const schema = withHeader(encoded, (h) => JSON.stringify({ ...h, featureSchema: { version: 1 } }));
    expect(code(() => decodeIlearner(schema))).toBe("Corrupt");
    const version = withHeader(encoded, (h) => JSON.stringify({ ...h, formatVersion: 2 }));
    expect(() => decodeIlearner(version)).toThrow("formatVersion");
    // The re-sealing helper itself leaves a valid file valid.
    expect(decodeIlearner(withHeader(encoded, (h) => JSON.stringify(h))).learner).toBe(input.learner);
  });

  it("refuses to encode what JSON or the lineage cannot carry", () => {
    const withNaN: IlearnerInput = { ...input, state: { ...input.state, meta: { bias: Number.NaN } } };
    expect(code(() => encodeIlearner(withNaN))).toBe("InvalidInput");
    expect(code(() => encodeIlearner({ ...input, parameters: { rate: Infinity } }))).toBe("InvalidInput");
    expect(code(() => encodeIlearner({ ...input, lineage: { ...input.lineage, datasetSha256: "abc" } }))).toBe("InvalidInput");
    expect(code(() => encodeIlearner({ ...input, lineage: { ...input.lineage, trainedAt: "yesterday" } }))).toBe("InvalidInput");
  });
});
