import { text } from "node:stream/consumers";
import { readCsvBytes } from "./csv-read.js";
import { csvField, writeCsv, writeCsvStream } from "./csv-write.js";
import { categoricalColumn, frameFromColumns, numericColumn } from "./frame.js";

describe("writeCsv", () => {
  const frame = frameFromColumns([
    numericColumn("x", [1.5, null, -2e-7, 0.1 + 0.2]),
    categoricalColumn("note", ["plain", 'say "hi"', "a,b", null]),
    categoricalColumn("multi line\nname", ["x\ny", " padded ", "", "z"]),
  ]);

  it("quotes only what needs quoting and prints missing values as empty fields", () => {
    expect(writeCsv(frame, { lineEnding: "\n" })).toBe(
      'x,note,"multi line\nname"\n1.5,plain,"x\ny"\n,"say ""hi"""," padded "\n-2e-7,"a,b",\n0.30000000000000004,,z\n',
    );
    expect(csvField("tab\there", "\t")).toBe('"tab\there"');
  });

  it("round-trips through readCsv (CRLF by default)", () => {
    const csv = writeCsv(frame);
    expect(csv.split("\r\n")).toHaveLength(6);
    const back = readCsvBytes(Buffer.from(csv));
    const x = back.column("x");
    if (x?.kind !== "numeric") throw new Error("numeric expected");
    expect(Array.from(x.values)).toEqual([1.5, NaN, -2e-7, 0.1 + 0.2]);
    const note = back.column("note");
    if (note?.kind !== "categorical") throw new Error("categorical expected");
    expect(Array.from(note.codes, (c) => (c < 0 ? null : note.levels[c]))).toEqual(["plain", 'say "hi"', "a,b", null]);
  });

  it("streams the same text in chunks", async () => {
    const rows = 5000;
    const big = frameFromColumns([numericColumn("i", Array.from({ length: rows }, (_, i) => i))]);
    const streamed = await text(writeCsvStream(big, { chunkChars: 1000 }));
    expect(streamed).toBe(writeCsv(big));
    expect(readCsvBytes(Buffer.from(streamed)).rows).toBe(rows);
  });
});
