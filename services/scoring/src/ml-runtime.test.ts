// The ML runtime: load errors by kind, and the RRS row featurization agreeing cell for cell with
// @retrain/ml's frame featurizer + Score Model (numeric and categorical inputs, missing values,
// unseen levels, the `drop` strategy).
import { categoricalColumn, decodeIlearner, encodeIlearner, featurizerFromSchema, fitFeaturizer, frameFromColumns, learners, numericColumn, scoreModel } from "@retrain/ml";
import { createMlRuntime, plainDecimal } from "./ml-runtime.js";
import { ModelLoadError, ScoreInputError, type Cell } from "./model-runtime.js";
import { corrupt, trainLogisticModel } from "./test-support/models.js";

function mixedModel(missing: "mean" | "drop", oneHot: boolean): Buffer {
  const rows = 400;
  const levels = ["red", "green", "blue"];
  const f0: number[] = [];
  const c0: string[] = [];
  const label: string[] = [];
  for (let r = 0; r < rows; r++) {
    const x = ((r * 37) % 100) / 50 - 1;
    const level = levels[r % 3] as string;
    f0.push(x);
    c0.push(level);
    label.push(x + (level === "red" ? 0.5 : level === "blue" ? -0.5 : 0) + (((r * 13) % 7) - 3) / 10 > 0 ? "1" : "0");
  }
  const frame = frameFromColumns([numericColumn("f0", f0), categoricalColumn("c0", c0), numericColumn("label", label.map(Number))]);
  const featurizer = fitFeaturizer(frame, { label: "label", task: "binary", missing, oneHot });
  const model = learners["Two-Class Logistic Regression"].fit(featurizer.trainingMatrix(frame), {}, { seed: 3 });
  return encodeIlearner({
    learner: model.learner,
    task: model.task,
    parameters: model.parameters,
    state: model.toState(),
    featureSchema: featurizer.schema,
    lineage: { datasetSha256: "1".repeat(64), rows, seed: 3, trainedAt: new Date(0).toISOString(), libraryVersion: "test" },
  });
}

/** What Score Model says for the same cells, through a frame. */
function reference(bytes: Buffer, names: string[], rows: Cell[][]): (string | null)[][] {
  const file = decodeIlearner(bytes);
  const model = learners[file.learner].fromState(file.state);
  const featurizer = featurizerFromSchema(file.featureSchema);
  const columns = names.map((name, c) => {
    const input = file.featureSchema.inputs.find((i) => i.name === name);
    const cells = rows.map((row) => row[c] ?? null);
    if (input?.kind === "numeric") return numericColumn(name, cells.map((v) => (v === null || v === "" ? null : Number(v))));
    return categoricalColumn(name, cells.map((v) => (v === null || v === "" ? null : String(v))));
  });
  const scored = scoreModel(model, featurizer, frameFromColumns(columns, rows.length));
  const labels = scored.column("Scored Labels");
  const probabilities = scored.column("Scored Probabilities");
  return rows.map((_, r) =>
    [labels, probabilities].map((column) => {
      if (column === undefined) return null;
      if (column.kind === "numeric") return Number.isNaN(column.values[r] as number) ? null : String(column.values[r]);
      const code = column.codes[r] as number;
      return code < 0 ? null : (column.levels[code] ?? null);
    }),
  );
}

describe("the ML model runtime", () => {
  const runtime = createMlRuntime({ warmupRuns: 3 });

  it("refuses unreadable bytes with ModelUnreadable and the format's reason", async () => {
    const good = trainLogisticModel();
    await expect(runtime.load(corrupt(good))).rejects.toMatchObject({ name: "ModelLoadError", code: "ModelUnreadable", reason: "ChecksumMismatch" });
    await expect(runtime.load(Buffer.from("not a model"))).rejects.toBeInstanceOf(ModelLoadError);
    await expect(runtime.load(good.subarray(0, good.length - 10))).rejects.toMatchObject({ code: "ModelUnreadable" });
  });

  it("reports its inputs and checks schemas", async () => {
    const model = await runtime.load(trainLogisticModel({ features: 2 }));
    expect(model.inputColumns).toEqual([
      { name: "f0", kind: "numeric" },
      { name: "f1", kind: "numeric" },
    ]);
    expect(model.compatibility([{ name: "f0", kind: "numeric" }, { name: "f1", kind: "numeric" }, { name: "x", kind: "categorical" }])).toEqual([]);
    expect(model.compatibility([{ name: "f0", kind: "numeric" }])).toHaveLength(1);
    expect(model.compatibility([{ name: "f0", kind: "categorical" }, { name: "f1", kind: "numeric" }])).toHaveLength(1);
    expect(() => model.scoreRows(["f0"], [["1"]])).toThrow(ScoreInputError);
    expect(() => model.scoreRows(["f0", "f1"], [["1", "abc"]])).toThrow(expect.objectContaining({ code: "InputParseError" }));
  });

  it.each([
    ["mean", true],
    ["mean", false],
    ["drop", true],
  ] as const)("scores rows exactly as Score Model does (missing=%s, oneHot=%s)", async (missing, oneHot) => {
    const bytes = mixedModel(missing, oneHot);
    const model = await runtime.load(bytes);
    const names = ["c0", "extra", "f0"];
    const rows: Cell[][] = [
      ["red", "x", "0.25"],
      ["blue", "y", -0.75],
      ["green", null, "1e-1"],
      ["purple", "z", "0.5"],
      [null, "z", "0.5"],
      ["red", "z", ""],
      ["red", "z", null],
      ["green", "z", " 0.3 "],
    ];
    const scored = model.scoreRows(names, rows);
    expect(scored.columnNames).toEqual(["Scored Labels", "Scored Probabilities"]);
    expect(scored.columnTypes).toEqual(["Int32", "Double"]);
    expect(scored.values).toEqual(reference(bytes, names, rows.map((row) => row.map((v) => (typeof v === "string" ? v.trim() : v)))));
  });

  it("scores a regression model: Scored Labels only, as Double", async () => {
    const rows = 200;
    const f0 = Array.from({ length: rows }, (_, r) => r / rows);
    const frame = frameFromColumns([numericColumn("f0", f0), numericColumn("y", f0.map((x) => 3 * x + 1))]);
    const featurizer = fitFeaturizer(frame, { label: "y", task: "regression" });
    const fitted = learners["Linear Regression"].fit(featurizer.trainingMatrix(frame), {}, { seed: 1 });
    const bytes = encodeIlearner({
      learner: fitted.learner,
      task: fitted.task,
      parameters: fitted.parameters,
      state: fitted.toState(),
      featureSchema: featurizer.schema,
      lineage: { datasetSha256: "2".repeat(64), rows, seed: 1, trainedAt: new Date(0).toISOString(), libraryVersion: "test" },
    });
    const model = await runtime.load(bytes);
    const scored = model.scoreRows(["f0"], [["0.5"], [null]]);
    expect(scored.columnNames).toEqual(["Scored Labels"]);
    expect(scored.columnTypes).toEqual(["Double"]);
    expect(scored.values).toEqual(reference(bytes, ["f0"], [["0.5"], [null]]).map((row) => row.slice(0, 1)));
    expect(Number(scored.values[0]?.[0])).toBeCloseTo(2.5, 1);
  });

  it("scores a CSV in batch with the scored columns appended", async () => {
    const model = await runtime.load(mixedModel("mean", true));
    const out = (await model.scoreCsv(Buffer.from("f0,c0\n0.5,red\n-0.5,blue\n"))).toString("utf8");
    expect(out.split(/\r?\n/)[0]).toBe("f0,c0,Scored Labels,Scored Probabilities");
    await expect(model.scoreCsv(Buffer.from("c0\nred\n"))).rejects.toMatchObject({ code: "MissingInputColumns" });
  });
});

describe("plainDecimal", () => {
  it("gives the same double as Number for plain decimals, and NaN (left to Number) for anything else", () => {
    let state = 0x9e3779b9;
    const random = (): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 4294967296;
    };
    const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join("");
    let checked = 0;
    for (let i = 0; i < 200_000; i++) {
      const whole = digits(1 + Math.floor(random() * 9));
      const fraction = random() < 0.2 ? "" : `.${digits(1 + Math.floor(random() * 9))}`;
      const text = `${random() < 0.3 ? "-" : ""}${whole}${fraction}`;
      const fast = plainDecimal(text);
      if (Number.isNaN(fast)) {
        // Only texts with more than 15 digits are left to Number.
        expect(text.replace(/[-.]/g, "").length).toBeGreaterThan(15);
        continue;
      }
      expect(Object.is(fast, Number(text))).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(150_000);
    for (const text of ["0", "-0", "007", "0.1", "123456789012345", "-99999.9999999999", "0.00000000000001"]) {
      expect(Object.is(plainDecimal(text), Number(text))).toBe(true);
    }
    for (const text of ["", "-", " 1", "1 ", "+1", ".5", "5.", "1e3", "1.2.3", "0x10", "Infinity", "NaN", "1,5", "12345678901234567", "0.30000000000000004", "--1"]) {
      expect(plainDecimal(text)).toBeNaN();
    }
  });

  it("leaves the texts it does not read to the general rules: spaces, exponents and signs score as their numbers", async () => {
    const model = await createMlRuntime({ warmupRuns: 0 }).load(trainLogisticModel());
    const names = model.inputColumns.map((c) => c.name);
    const row = (text: string): Cell[] => names.map((_, i) => (i === 0 ? text : "0.25"));
    const expected = model.scoreRows(names, [row("0.5")]).values;
    for (const text of [" 0.5 ", "5e-1", "+0.5", ".5", "0.50", "\t0.5\n"]) expect(model.scoreRows(names, [row(text)]).values).toEqual(expected);
    expect(() => model.scoreRows(names, [row("0.5x")])).toThrow(expect.objectContaining({ code: "InputParseError" }));
  });
});
