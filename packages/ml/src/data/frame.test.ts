import { DatasetError } from "./errors.js";
import { categoricalColumn, cellText, frameFromColumns, numericColumn, selectRows } from "./frame.js";

describe("frames", () => {
  const frame = frameFromColumns([numericColumn("x", [1, null, 3]), categoricalColumn("c", ["a", "b", null])]);

  it("selects rows in the given order, repeats allowed", () => {
    const picked = selectRows(frame, Int32Array.from([2, 0, 0]));
    expect(picked.rows).toBe(3);
    const x = picked.column("x");
    const c = picked.column("c");
    if (x === undefined || c === undefined) throw new Error("columns expected");
    expect([0, 1, 2].map((row) => cellText(x, row))).toEqual(["3", "1", "1"]);
    expect([0, 1, 2].map((row) => cellText(c, row))).toEqual([undefined, "a", "a"]);
    expect(() => selectRows(frame, Int32Array.from([3]))).toThrow("outside");
  });

  it("checks names, lengths and codes when built from columns", () => {
    expect(() => frameFromColumns([numericColumn("x", [1]), numericColumn("x", [2])])).toThrow(DatasetError);
    expect(() => frameFromColumns([numericColumn("x", [1]), numericColumn("y", [2, 3])])).toThrow("has 2 rows; expected 1");
    expect(() => frameFromColumns([{ name: "c", kind: "categorical", codes: Int32Array.from([1]), levels: ["a"] }])).toThrow("1 levels");
    expect(frameFromColumns([], 5).rows).toBe(5);
    expect(frame.column("missing")).toBeUndefined();
  });
});
