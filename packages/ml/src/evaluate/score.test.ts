import { readCsvBytes } from "../data/csv-read.js";
import { writeCsv } from "../data/csv-write.js";
import { fitFeaturizer } from "../data/featurizer.js";
import { cellText, type DataFrame } from "../data/frame.js";
import type { LearnerName, ModelState, TaskKind, TrainedModel } from "../model.js";
import { scoreModel } from "./score.js";

/** A real (tiny) linear model: score = w·x + b, squashed by a sigmoid for binary. */
class LinearModel implements TrainedModel {
  readonly parameters = {};
  constructor(
    readonly learner: LearnerName,
    readonly task: TaskKind,
    private readonly weights: readonly number[],
    private readonly bias: number,
  ) {}

  get features(): number {
    return this.weights.length;
  }

  predict(x: Float64Array, rows: number, out = new Float64Array(rows)): Float64Array {
    for (let r = 0; r < rows; r++) {
      let z = this.bias;
      this.weights.forEach((w, j) => (z += w * (x[r * this.weights.length + j] as number)));
      out[r] = this.task === "binary" ? 1 / (1 + Math.exp(-z)) : z;
    }
    return out;
  }

  toState(): ModelState {
    return { kind: "linear", meta: {}, arrays: { weights: Float64Array.from(this.weights) } };
  }
}

function column(frame: DataFrame, name: string): (string | undefined)[] {
  const c = frame.column(name);
  if (c === undefined) throw new Error(`no ${name}`);
  return Array.from({ length: frame.rows }, (_, row) => cellText(c, row));
}

const csv = (text: string): DataFrame => readCsvBytes(Buffer.from(text));

describe("scoreModel", () => {
  it("appends Scored Labels (as in the data) and Scored Probabilities for a binary model", () => {
    const train = csv("x,income\n-2,<=50K\n3,>50K\n");
    const featurizer = fitFeaturizer(train, { label: "income", task: "binary", missing: "drop" });
    const model = new LinearModel("Two-Class Logistic Regression", "binary", [1], 0);
    const scored = scoreModel(model, featurizer, csv("x,income\n2,>50K\n-1,\n,>50K\n0,<=50K\n"));
    expect(scored.columns.map((c) => c.name)).toEqual(["x", "income", "Scored Labels", "Scored Probabilities"]);
    expect(column(scored, "Scored Labels")).toEqual([">50K", "<=50K", undefined, ">50K"]);
    const p = scored.column("Scored Probabilities");
    if (p?.kind !== "numeric") throw new Error("numeric expected");
    expect(p.values[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 15);
    expect(p.values[2]).toBeNaN();
    expect(writeCsv(scored, { lineEnding: "\n" }).split("\n")[3]).toBe(",>50K,,");
    // A stricter threshold changes only the labels.
    expect(column(scoreModel(model, featurizer, csv("x\n0\n1\n"), { threshold: 0.6 }), "Scored Labels")).toEqual(["<=50K", ">50K"]);
  });

  it("keeps a numeric 0/1 label numeric and scores regression models", () => {
    const train = csv("x,y\n1,0\n2,1\n");
    const binary = fitFeaturizer(train, { label: "y", task: "binary" });
    const scored = scoreModel(new LinearModel("Two-Class Logistic Regression", "binary", [1], -1.5), binary, csv("x,Scored Labels\n1,old\n2,old\n"));
    expect(scored.columns.map((c) => c.name)).toEqual(["x", "Scored Labels", "Scored Probabilities"]);
    expect(scored.column("Scored Labels")?.kind).toBe("numeric");
    expect(column(scored, "Scored Labels")).toEqual(["0", "1"]);

    const regression = fitFeaturizer(train, { label: "y", task: "regression" });
    const predicted = scoreModel(new LinearModel("Linear Regression", "regression", [2], 1), regression, csv("x\n1\nNA\n"));
    expect(column(predicted, "Scored Labels")).toEqual(["3", String(2 * 1.5 + 1)]);
    expect(predicted.column("Scored Probabilities")).toBeUndefined();
  });

  it("refuses a model that does not fit the featurizer", () => {
    const featurizer = fitFeaturizer(csv("x,y\n1,0\n2,1\n"), { label: "y", task: "binary" });
    expect(() => scoreModel(new LinearModel("Linear Regression", "regression", [1], 0), featurizer, csv("x\n1\n"))).toThrow("regression model");
    expect(() => scoreModel(new LinearModel("Two-Class Logistic Regression", "binary", [1, 2], 0), featurizer, csv("x\n1\n"))).toThrow("expects 2 features");
  });
});
