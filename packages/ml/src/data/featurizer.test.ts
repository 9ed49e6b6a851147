import { readCsvBytes } from "./csv-read.js";
import { DatasetError, type DatasetErrorCode } from "./errors.js";
import { checkCompatible, parseFeatureSchema } from "./feature-schema.js";
import { featurizerFromSchema, fitFeaturizer } from "./featurizer.js";
import { categoricalColumn, frameFromColumns, numericColumn, type DataFrame } from "./frame.js";
import { inferSchema } from "./schema.js";

function csv(text: string): DataFrame {
  return readCsvBytes(Buffer.from(text));
}

function rowsOf(x: Float64Array, features: number): number[][] {
  const out: number[][] = [];
  for (let at = 0; at < x.length; at += features) out.push(Array.from(x.subarray(at, at + features)));
  return out;
}

function codeOf(run: () => unknown): DatasetErrorCode {
  try {
    run();
  } catch (error) {
    if (error instanceof DatasetError) return error.code;
    throw error;
  }
  throw new Error("expected a DatasetError");
}

const training = csv(["age,color,income,y", "30,red,10,yes", "40,blue,,no", ",red,30,yes", "50,green,40,no", "60,,50,yes"].join("\n"));

describe("fitFeaturizer", () => {
  it("one-hot encodes categorical features with an unseen bucket and imputes by the mean", () => {
    const f = fitFeaturizer(training, { label: "y", task: "binary" });
    expect(f.featureNames).toEqual(["age", "color=blue", "color=green", "color=red", "color=__unseen__", "income"]);
    const m = f.transform(training);
    expect(m.rows).toBe(5);
    // age mean = (30+40+50+60)/4 = 45; color mode = red (2 of 4); income mean = (10+30+40+50)/4 = 32.5
    expect(rowsOf(m.x, m.features)).toEqual([
      [30, 0, 0, 1, 0, 10],
      [40, 1, 0, 0, 0, 32.5],
      [45, 0, 0, 1, 0, 30],
      [50, 0, 1, 0, 0, 40],
      [60, 0, 0, 1, 0, 50],
    ]);
    expect(Array.from(f.labels(training, m.rowIndex))).toEqual([1, 0, 1, 0, 1]);
    expect(f.classLabel(1)).toBe("yes");

    const scoring = csv("color,age,income\npurple,20,5\nblue,,\n");
    const s = f.transform(scoring, { purpose: "score" });
    expect(rowsOf(s.x, s.features)).toEqual([
      [20, 0, 0, 0, 1, 5],
      [45, 1, 0, 0, 0, 32.5],
    ]);
  });

  it("records median and mode replacements", () => {
    const frame = csv("a,b,y\n1,x,1\n2,y,0\n2,y,1\n10,,0\n,z,1\n");
    const median = fitFeaturizer(frame, { label: "y", task: "regression", missing: "median" });
    expect(median.schema.inputs.map((i) => i.replacement)).toEqual([2, "y"]);
    const mode = fitFeaturizer(frame, { label: "y", task: "regression", missing: "mode" });
    expect(mode.schema.inputs.map((i) => i.replacement)).toEqual([2, "y"]);
    const mean = fitFeaturizer(frame, { label: "y", task: "regression", missing: "mean" });
    expect(mean.schema.inputs.map((i) => i.replacement)).toEqual([3.75, "y"]);
  });

  it("drops rows with a missing feature or label under drop, at training and scoring", () => {
    const frame = csv("a,b,y\n1,x,1\n,y,0\n3,,1\n4,y,\n5,x,0\n");
    const f = fitFeaturizer(frame, { label: "y", task: "binary", missing: "drop", oneHot: false });
    expect(f.schema.inputs.map((i) => i.replacement)).toEqual([null, null]);
    const m = f.trainingMatrix(frame);
    expect(Array.from(m.rowIndex)).toEqual([0, 4]);
    expect(rowsOf(m.x, m.features)).toEqual([
      [1, 0],
      [5, 0],
    ]);
    expect(Array.from(m.y)).toEqual([1, 0]);
    // Scoring ignores the label but still leaves out rows it cannot featurize; an unseen level is levels.length.
    expect(Array.from(f.transform(frame, { purpose: "score" }).rowIndex)).toEqual([0, 3, 4]);
    expect(Array.from(f.transform(csv("a,b\n1,q\n"), { purpose: "score" }).x)).toEqual([1, 2]);
  });

  it("maps binary labels: numeric 0/1 as is, two levels by sorted order or positiveLabel", () => {
    const numeric = frameFromColumns([numericColumn("x", [1, 2, 3]), numericColumn("y", [0, 1, 0])]);
    const f = fitFeaturizer(numeric, { label: "y", task: "binary" });
    expect(Array.from(f.trainingMatrix(numeric).y)).toEqual([0, 1, 0]);
    expect(f.schema.label).toEqual({ name: "y", task: "binary", kind: "numeric", classes: ["0", "1"], classValues: [0, 1] });

    const text = frameFromColumns([numericColumn("x", [1, 2, 3]), categoricalColumn("y", ["pos", "neg", "pos"])]);
    expect(Array.from(fitFeaturizer(text, { label: "y", task: "binary" }).trainingMatrix(text).y)).toEqual([1, 0, 1]);
    const flipped = fitFeaturizer(text, { label: "y", task: "binary", positiveLabel: "neg" });
    expect(Array.from(flipped.trainingMatrix(text).y)).toEqual([0, 1, 0]);
    expect(flipped.schema.label.classes).toEqual(["pos", "neg"]);

    const twoValued = frameFromColumns([numericColumn("x", [1, 2]), numericColumn("y", [-1, 1])]);
    expect(fitFeaturizer(twoValued, { label: "y", task: "binary" }).schema.label.classValues).toEqual([-1, 1]);
  });

  it("rejects labels a task cannot use", () => {
    const three = frameFromColumns([numericColumn("x", [1, 2, 3]), categoricalColumn("y", ["a", "b", "c"])]);
    expect(codeOf(() => fitFeaturizer(three, { label: "y", task: "binary" }))).toBe("LabelInvalid");
    expect(codeOf(() => fitFeaturizer(three, { label: "y", task: "regression" }))).toBe("LabelInvalid");
    const one = frameFromColumns([numericColumn("x", [1, 2]), numericColumn("y", [1, 1])]);
    expect(codeOf(() => fitFeaturizer(one, { label: "y", task: "binary" }))).toBe("LabelInvalid");
    const two = frameFromColumns([numericColumn("x", [1, 2]), categoricalColumn("y", ["a", "b"])]);
    expect(codeOf(() => fitFeaturizer(two, { label: "y", task: "binary", positiveLabel: "c" }))).toBe("LabelInvalid");
    const f = fitFeaturizer(two, { label: "y", task: "binary" });
    const other = frameFromColumns([numericColumn("x", [1]), categoricalColumn("y", ["c"])]);
    expect(codeOf(() => f.labels(other, new Int32Array([0])))).toBe("LabelInvalid");
  });

  it("fails on missing columns, kind mismatches, a label among the features and all-missing features", () => {
    const f = fitFeaturizer(training, { label: "y", task: "binary" });
    expect(codeOf(() => f.transform(csv("age,color\n1,red\n"), { purpose: "score" }))).toBe("ColumnNotFound");
    expect(codeOf(() => f.transform(csv("age,color,income\nold,red,1\n"), { purpose: "score" }))).toBe("ColumnKindMismatch");
    expect(codeOf(() => f.transform(csv("age,color,income\n1,red,1\n")))).toBe("ColumnNotFound");
    expect(codeOf(() => fitFeaturizer(training, { label: "y", task: "binary", features: ["age", "y"] }))).toBe("InvalidArgument");
    expect(codeOf(() => fitFeaturizer(training, { label: "nope", task: "binary" }))).toBe("ColumnNotFound");
    const empty = frameFromColumns([numericColumn("x", [null, null]), numericColumn("y", [0, 1])]);
    expect(codeOf(() => fitFeaturizer(empty, { label: "y", task: "binary" }))).toBe("ColumnAllMissing");
  });

  it("matches a numeric scoring column to categorical levels by text", () => {
    const frame = csv("grade,y\n1,0\n2,1\nA,0\n");
    const f = fitFeaturizer(frame, { label: "y", task: "binary" });
    expect(f.featureNames).toEqual(["grade=1", "grade=2", "grade=A", "grade=__unseen__"]);
    const scoring = csv("grade\n2\n3\n");
    expect(scoring.column("grade")?.kind).toBe("numeric");
    expect(rowsOf(f.transform(scoring, { purpose: "score" }).x, 4)).toEqual([
      [0, 1, 0, 0],
      [0, 0, 0, 1],
    ]);
  });
});

describe("feature schema", () => {
  it("round-trips through JSON into an equivalent featurizer", () => {
    const f = fitFeaturizer(training, { label: "y", task: "binary", positiveLabel: "no" });
    const json = JSON.parse(JSON.stringify(f.schema)) as unknown;
    const g = featurizerFromSchema(json);
    expect(g.schema).toEqual(f.schema);
    const a = f.trainingMatrix(training);
    const b = g.trainingMatrix(training);
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    expect(Array.from(b.y)).toEqual(Array.from(a.y));
  });

  it("rejects malformed schemas with the path of the problem", () => {
    const schema = JSON.parse(JSON.stringify(fitFeaturizer(training, { label: "y", task: "binary" }).schema)) as {
      inputs: { width: number }[];
      outputs: string[];
    };
    (schema.inputs[1] as { width: number }).width = 3;
    expect(() => parseFeatureSchema(schema)).toThrow("schema.inputs[1].width");
    expect(() => parseFeatureSchema({ version: 2 })).toThrow("schema.version");
    expect(() => parseFeatureSchema(null)).toThrow(DatasetError);
  });

  it("reports what keeps an input from fitting", () => {
    const f = fitFeaturizer(training, { label: "y", task: "binary" });
    expect(checkCompatible(f.schema, [
      { name: "age", kind: "numeric" },
      { name: "color", kind: "numeric" },
      { name: "income", kind: "numeric" },
    ])).toEqual([]);
    const problems = checkCompatible(f.schema, [
      { name: "age", kind: "categorical" },
      { name: "color", kind: "categorical" },
    ]);
    expect(problems.map((p) => [p.column, p.problem])).toEqual([
      ["age", "kind"],
      ["income", "missing"],
    ]);
    expect(problems[1]?.message).toBe('column "income" (numeric) is missing');
  });
});

describe("inferSchema", () => {
  it("describes label and features", () => {
    const schema = inferSchema(training, { label: "y" });
    expect(schema.label).toEqual({ name: "y", kind: "categorical", missing: 0, levels: 2 });
    expect(schema.features).toEqual([
      { name: "age", kind: "numeric", missing: 1 },
      { name: "color", kind: "categorical", missing: 1, levels: 3 },
      { name: "income", kind: "numeric", missing: 1 },
    ]);
    expect(inferSchema(training, { label: "y", features: ["income"] }).features).toHaveLength(1);
  });
});
