import { evaluateBinary } from "./binary-metrics.js";
import { isBinaryMetrics, metricsFromCsv, metricsToCsv } from "./metrics-csv.js";
import { evaluateRegression } from "./regression-metrics.js";

describe("metrics CSV", () => {
  it("writes the Evaluate Model header and one row, and reads it back (binary)", () => {
    const metrics = evaluateBinary(Float64Array.from([1, 0, 1, 0]), Float64Array.from([0.8, 0.3, 0.4, 0.6]), 0.5, ">50K");
    const csv = metricsToCsv(metrics, { lineEnding: "\n" });
    const [header, row] = csv.split("\n");
    expect(header).toBe(
      "AUC,Accuracy,Precision,Recall,F1 Score,Average Log Loss,Threshold,Positive Label,True Positive,False Positive,True Negative,False Negative",
    );
    expect(row?.split(",").slice(0, 2)).toEqual(["0.75", "0.5"]);
    const back = metricsFromCsv(csv);
    expect(back).toEqual(metrics);
    expect(isBinaryMetrics(back)).toBe(true);
  });

  it("round-trips regression metrics, including NaN", () => {
    const metrics = evaluateRegression(Float64Array.from([1, 1]), Float64Array.from([0.5, 2]));
    const csv = metricsToCsv(metrics);
    expect(csv.startsWith("Mean Absolute Error,Root Mean Squared Error,Relative Absolute Error,Relative Squared Error,Coefficient of Determination\r\n")).toBe(true);
    expect(csv).toContain("NaN");
    const back = metricsFromCsv(Buffer.from(csv));
    expect(back).toEqual(metrics);
    expect(isBinaryMetrics(back)).toBe(false);
  });

  it("rejects a CSV that is not an Evaluate Model output", () => {
    expect(() => metricsFromCsv("a,b\n1,2\n")).toThrow("not an Evaluate Model CSV");
    expect(() => metricsFromCsv("Mean Absolute Error\n1\n2\n")).toThrow("one row");
  });
});
