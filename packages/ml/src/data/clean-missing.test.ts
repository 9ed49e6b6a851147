import { applyReplacements, cleanMissingData } from "./clean-missing.js";
import { categoricalColumn, cellText, frameFromColumns, numericColumn, type DataFrame } from "./frame.js";

function column(frame: DataFrame, name: string): (string | undefined)[] {
  const c = frame.column(name);
  if (c === undefined) throw new Error(`no ${name}`);
  return Array.from({ length: frame.rows }, (_, row) => cellText(c, row));
}

describe("cleanMissingData", () => {
  const frame = frameFromColumns([
    numericColumn("a", [1, null, 4, 4, 11]),
    categoricalColumn("b", ["x", "y", null, "y", "x"]),
    numericColumn("c", [null, 2, 3, null, 5]),
  ]);

  it("replaces per column by mean, median or mode and records the values", () => {
    const result = cleanMissingData(frame, { strategy: "mean", strategies: { a: "median", c: "mode" } });
    expect(result.replacements).toEqual([
      { column: "a", kind: "numeric", strategy: "median", value: 4 },
      { column: "b", kind: "categorical", strategy: "mode", value: "x" },
      { column: "c", kind: "numeric", strategy: "mode", value: 2 },
    ]);
    expect(column(result.frame, "a")).toEqual(["1", "4", "4", "4", "11"]);
    expect(column(result.frame, "b")).toEqual(["x", "y", "x", "y", "x"]);
    expect(column(result.frame, "c")).toEqual(["2", "2", "3", "2", "5"]);
    expect(cleanMissingData(frame, { columns: ["a"] }).replacements[0]?.value).toBe(5);
  });

  it("drops rows with a missing value in a drop column and reuses fitted values on new data", () => {
    const result = cleanMissingData(frame, { columns: ["a", "c"], strategies: { c: "drop" } });
    expect(Array.from(result.rowIndex)).toEqual([1, 2, 4]);
    expect(column(result.frame, "a")).toEqual(["5", "4", "11"]);
    expect(column(result.frame, "b")).toEqual(["y", undefined, "x"]);
    const fresh = frameFromColumns([numericColumn("a", [null, 7]), categoricalColumn("b", [null, "z"]), numericColumn("c", [1, null])]);
    const again = applyReplacements(fresh, result.replacements);
    expect(column(again.frame, "a")).toEqual(["5"]);
    expect(Array.from(again.rowIndex)).toEqual([0]);
  });
});
