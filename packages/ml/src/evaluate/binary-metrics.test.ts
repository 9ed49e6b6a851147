import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readCsvBytes } from "../data/csv-read.js";
import { auc, evaluateBinary } from "./binary-metrics.js";

const f64 = (values: number[]): Float64Array => Float64Array.from(values);

describe("evaluateBinary", () => {
  it("matches hand-computed metrics (AUC with a tied pair)", () => {
    // Predicted positive (p ≥ 0.5): 0.9 (y=1), 0.8 (y=0), 0.7 (y=1) → TP 2, FP 1; below: FN 1 (0.4), TN 2.
    // AUC pairs: 0.9 beats 3, 0.7 beats 2, 0.4 ties 0.4 and beats 0.1 → (3 + 2 + 1.5) / 9.
    const m = evaluateBinary(f64([1, 0, 1, 1, 0, 0]), f64([0.9, 0.8, 0.7, 0.4, 0.4, 0.1]), 0.5, "yes");
    expect(m.counts).toEqual({ truePositive: 2, falsePositive: 1, trueNegative: 2, falseNegative: 1 });
    expect(m.Accuracy).toBeCloseTo(4 / 6, 15);
    expect(m.Precision).toBeCloseTo(2 / 3, 15);
    expect(m.Recall).toBeCloseTo(2 / 3, 15);
    expect(m["F1 Score"]).toBeCloseTo(2 / 3, 15);
    expect(m.AUC).toBeCloseTo(6.5 / 9, 15);
    // −(ln .9 + ln .2 + ln .7 + ln .4 + ln .6 + ln .9) / 6; sklearn 1.2.1 log_loss agrees.
    expect(m["Average Log Loss"]).toBeCloseTo(0.6006583738881053, 12);
    expect(m.Threshold).toBe(0.5);
    expect(m["Positive Label"]).toBe("yes");
  });

  it("clips probabilities of 0 and 1 for the log loss and counts ties at the threshold as positive (sklearn reference)", () => {
    const y = f64([0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0]);
    const p = f64([0.1, 0.3, 0.3, 0.5, 0.5, 0.5, 0.9, 0.9, 0.2, 1.0, 0.0, 0.3]);
    const m = evaluateBinary(y, p);
    expect(m.AUC).toBeCloseTo(0.7083333333333334, 12);
    expect(m["Average Log Loss"]).toBeCloseTo(0.6766256892189196, 12);
    expect(m.counts.truePositive + m.counts.falsePositive).toBe(6);
    expect("Positive Label" in m).toBe(false);
  });

  it("matches sklearn's roc_auc_score and log_loss on 2000 rows with many ties", async () => {
    const frame = readCsvBytes(await readFile(join(__dirname, "fixtures", "auc-ties.csv")));
    const y = frame.column("y");
    const p = frame.column("p");
    if (y?.kind !== "numeric" || p?.kind !== "numeric") throw new Error("numeric columns expected");
    const m = evaluateBinary(y.values, p.values);
    expect(m.AUC).toBeCloseTo(0.8304395624182235, 12);
    expect(m["Average Log Loss"]).toBeCloseTo(0.4894634922691124, 12);
  });

  it("handles degenerate inputs", () => {
    expect(auc(f64([1, 1]), f64([0.2, 0.3]))).toBeNaN();
    expect(auc(f64([0, 1]), f64([0.5, 0.5]))).toBe(0.5);
    expect(auc(f64([0, 1]), f64([0.2, 0.8]))).toBe(1);
    const none = evaluateBinary(f64([0, 0, 1]), f64([0.1, 0.2, 0.3]), 0.9);
    expect(none.Precision).toBe(0);
    expect(none.Recall).toBe(0);
    expect(none["F1 Score"]).toBe(0);
    expect(() => evaluateBinary(f64([2]), f64([0.5]))).toThrow("0 or 1");
    expect(() => evaluateBinary(f64([1]), f64([1.5]))).toThrow("[0, 1]");
    expect(() => evaluateBinary(f64([1]), f64([]))).toThrow("values");
  });
});
