import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { readCsv, readCsvBytes, type CsvReadOptions } from "./csv-read.js";
import { DatasetError, type DatasetErrorCode } from "./errors.js";
import { cellText, type DataFrame } from "./frame.js";

function read(text: string | Buffer, options?: CsvReadOptions): DataFrame {
  return readCsvBytes(typeof text === "string" ? Buffer.from(text, "utf8") : text, options);
}

function readChunks(chunks: readonly Buffer[], options?: CsvReadOptions): Promise<DataFrame> {
  return readCsv(Readable.from(chunks), options);
}

/** Every column as its cell texts (`null` = missing), for comparing whole frames. */
function texts(frame: DataFrame): { [name: string]: (string | null)[] } {
  const out: { [name: string]: (string | null)[] } = {};
  for (const column of frame.columns) {
    out[`${column.name}:${column.kind}`] = Array.from({ length: frame.rows }, (_, row) => cellText(column, row) ?? null);
  }
  return out;
}

function failure(run: () => unknown): DatasetError {
  try {
    run();
  } catch (error) {
    if (error instanceof DatasetError) return error;
    throw error;
  }
  throw new Error("expected a DatasetError");
}

async function failureAsync(run: () => Promise<unknown>): Promise<DatasetError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DatasetError) return error;
    throw error;
  }
  throw new Error("expected a DatasetError");
}

function expectCode(error: DatasetError, code: DatasetErrorCode, line?: number, column?: number): void {
  expect(error.code).toBe(code);
  if (line !== undefined) expect(error.line).toBe(line);
  if (column !== undefined) expect(error.column).toBe(column);
}

describe("readCsv: values and types", () => {
  it("infers numeric and categorical columns and reads missing markers", () => {
    const frame = read("a,b,c\n1,x,2.5\n,y,NA\n3,,NaN\n?,\"NA\",-4e2\n");
    expect(frame.rows).toBe(4);
    const a = frame.column("a");
    const b = frame.column("b");
    const c = frame.column("c");
    expect(a?.kind).toBe("numeric");
    expect(c?.kind).toBe("numeric");
    expect(b?.kind).toBe("categorical");
    if (a?.kind !== "numeric" || c?.kind !== "numeric" || b?.kind !== "categorical") throw new Error("kinds");
    expect(Array.from(a.values)).toEqual([1, NaN, 3, NaN]);
    expect(Array.from(c.values)).toEqual([2.5, NaN, NaN, -400]);
    expect(b.levels).toEqual(["x", "y"]);
    expect(Array.from(b.codes)).toEqual([0, 1, -1, -1]);
  });

  it("honours custom missing markers, delimiters and forced categorical columns", () => {
    const frame = read("id;v;zip\n1;-;02134\n2;5;10001\n", { delimiter: ";", missingValues: ["-"], categoricalColumns: ["zip", "absent"] });
    expect(texts(frame)).toEqual({ "id:numeric": ["1", "2"], "v:numeric": [null, "5"], "zip:categorical": ["02134", "10001"] });
    expect(texts(read("a\tb\n1\t2\n", { delimiter: "\t" }))).toEqual({ "a:numeric": ["1"], "b:numeric": ["2"] });
  });

  it("reads quoted fields with delimiters, doubled quotes and line breaks", () => {
    const frame = read('name,note\n"Smith, J","said ""hi"""\n"multi\nline","a\r\nb"\n"",x\n');
    expect(texts(frame)).toEqual({
      "name:categorical": ["Smith, J", "multi\nline", null],
      "note:categorical": ['said "hi"', "a\r\nb", "x"],
    });
  });

  it("accepts CRLF, LF and bare CR line ends, a BOM, blank lines and a missing final line break", () => {
    const expected = { "a:numeric": ["1", "3"], "b:categorical": ["x", "y"] };
    expect(texts(read("a,b\r\n1,x\r\n3,y\r\n"))).toEqual(expected);
    expect(texts(read("a,b\n1,x\n3,y"))).toEqual(expected);
    expect(texts(read("a,b\r1,x\r3,y\r"))).toEqual(expected);
    expect(texts(read("\ufeffa,b\n\n1,x\r\n\r\n3,y\n\n"))).toEqual(expected);
    expect(read("\ufeffa,b\n").columns.map((c) => c.name)).toEqual(["a", "b"]);
  });

  it("reads an empty last field at the end of the input", () => {
    expect(texts(read("a,b\n1,"))).toEqual({ "a:numeric": ["1"], "b:numeric": [null] });
  });

  it("reads a header-only file as zero rows", () => {
    const frame = read("a,b\n");
    expect(frame.rows).toBe(0);
    expect(frame.columns.map((c) => c.kind)).toEqual(["numeric", "numeric"]);
  });

  it("parses numbers exactly as Number() does", () => {
    const samples = ["0", "-0", "1.5", "-2.25e-3", "1E5", "123456789012345678", "0.1", "0.30000000000000004", "1e-320", "9007199254740993", " 7 ", "+3", ".5", "5."];
    const frame = read(`v\n${samples.map((s) => `"${s}"`).join("\n")}\n`);
    const v = frame.column("v");
    if (v?.kind !== "numeric") throw new Error("numeric expected");
    samples.forEach((s, i) => expect(Object.is(v.values[i], Number(s))).toBe(true));
  });

  it("keeps hex, Infinity, 1_000 and out-of-range numbers as text", () => {
    for (const text of ["0x10", "Infinity", "1_000", "1e400", "--1", "1e", "1.2.3"]) {
      expect(read(`v\n1\n${text}\n`).column("v")?.kind).toBe("categorical");
    }
  });
});

describe("readCsv: categorical levels", () => {
  it("keeps 20 000 distinct levels (ASCII and multibyte) apart and in order of first appearance", () => {
    const values = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `é${i}` : `v${i}`));
    const lines = [...values, ...values.slice().reverse()].map((v, i) => `${v},${i}`);
    const frame = read(`name,n\n${lines.join("\n")}\n`);
    const name = frame.column("name");
    if (name?.kind !== "categorical") throw new Error("categorical expected");
    expect(name.levels).toEqual(values);
    expect(Array.from(name.codes.subarray(20_000, 20_003))).toEqual([19_999, 19_998, 19_997]);
  });
});

describe("readCsv: promotion of a numeric column to categorical", () => {
  it("keeps the source text of earlier numeric values", () => {
    const values = ["1.50", "007", "1e3", "-0", "2", "-0.0", "0.1000", " 4", "12345.678901234567", "5.", ".25", "x", "2"];
    const frame = read(`v\n${values.map((v) => `"${v}"`).join("\n")}\n`);
    const v = frame.column("v");
    if (v?.kind !== "categorical") throw new Error("categorical expected");
    expect(Array.from(v.codes, (c) => v.levels[c])).toEqual(values);
  });

  it("promotes after many rows, across storage blocks, with mixed text forms", () => {
    const rows: string[] = [];
    for (let i = 0; i < 5000; i++) rows.push(i % 7 === 0 ? `${i}.0` : i % 11 === 0 ? `0${i}` : i % 13 === 0 ? "" : String(i * 0.25));
    rows.push("text");
    const frame = read(`n,v\n${rows.map((r, i) => `${i},${r}`).join("\n")}\n`);
    const v = frame.column("v");
    if (v?.kind !== "categorical") throw new Error("categorical expected");
    expect(Array.from(v.codes, (c) => (c < 0 ? "" : v.levels[c]))).toEqual(rows);
    expect(frame.column("n")?.kind).toBe("numeric");
  });
});

describe("readCsv: chunk boundaries", () => {
  const tricky = Buffer.from(
    '\ufeffid,text,"va""l"\r\n1,"a,b",1.5\r\n2,"say ""é""\r\nnow",-2e3\n3,,NA\r\n\r\n4,"日本語",7\r5,"x""",\r\n6,plain,0.25',
    "utf8",
  );

  it("gives the same frame wherever the input is split in two", async () => {
    const whole = texts(read(tricky));
    expect(whole["text:categorical"]).toEqual(["a,b", 'say "é"\r\nnow', null, "日本語", 'x"', "plain"]);
    expect(whole['va"l:numeric']).toEqual(["1.5", "-2000", null, "7", null, "0.25"]);
    for (let cut = 0; cut <= tricky.length; cut++) {
      const frame = await readChunks([tricky.subarray(0, cut), tricky.subarray(cut)]);
      expect(texts(frame)).toEqual(whole);
    }
  });

  it("gives the same frame when fed one byte at a time", async () => {
    const chunks = Array.from(tricky, (byte) => Buffer.from([byte]));
    expect(texts(await readChunks(chunks))).toEqual(texts(read(tricky)));
  });

  it("accepts string chunks", async () => {
    const frame = await readCsv(Readable.from(["a,b\n1,", "x\n"], { objectMode: true }));
    expect(texts(frame)).toEqual({ "a:numeric": ["1"], "b:categorical": ["x"] });
  });
});

describe("readCsv: errors", () => {
  it("reports a ragged row at the line where its record starts (quoted line breaks counted)", () => {
    const error = failure(() => read('a,b,c\n1,"two\nlines",3\n4,5\n6,7,8\n'));
    expectCode(error, "CsvRaggedRow", 4, 3);
    expect(error.message).toBe("line 4 has 2 fields; the header has 3");
    const tooMany = failure(() => read("a,b\n1,2\n3,4,5,6\n"));
    expectCode(tooMany, "CsvRaggedRow", 3, 3);
    expect(tooMany.message).toBe("line 3 has 4 fields; the header has 2");
  });

  it("rejects an unterminated quote at the end of the input", () => {
    const error = failure(() => read('a,b\n1,2\n3,"open\nstill open'));
    expectCode(error, "CsvUnterminatedQuote", 3, 2);
    expect(error.message).toContain("line 3, column 2");
  });

  it("rejects text after a closing quote", () => {
    expectCode(failure(() => read('a,b\n1,"x"y\n')), "CsvBadQuote", 2, 2);
  });

  it("rejects empty input and a header with an empty or repeated name", () => {
    expectCode(failure(() => read("")), "CsvEmpty");
    expectCode(failure(() => read("\ufeff\n\r\n")), "CsvEmpty");
    expectCode(failure(() => read("a,,c\n1,2,3\n")), "CsvNoHeader", 1, 2);
    const duplicate = failure(() => read("a,b,a\n1,2,3\n"));
    expectCode(duplicate, "CsvDuplicateColumn", 1, 3);
    expect(duplicate.message).toContain('"a"');
  });

  it("rejects invalid UTF-8 in a text value, naming line and column", () => {
    const bytes = Buffer.concat([Buffer.from("a,b\n1,ok\n2,bad"), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]);
    const error = failure(() => read(bytes));
    expectCode(error, "CsvInvalidUtf8", 3, 2);
    expect(error.columnName).toBe("b");
    expectCode(failure(() => read(Buffer.from([0x61, 0xff, 0x0a, 0x31, 0x0a]))), "CsvInvalidUtf8", 1, 1);
  });

  it("enforces the field, row and size limits", async () => {
    const long = "x".repeat(100);
    expectCode(failure(() => read(`a,b\n1,${long}\n`, { maxFieldBytes: 50 })), "CsvFieldTooLong", 2, 2);
    expectCode(failure(() => read(`a,b\n1,"${long}"\n`, { maxFieldBytes: 50 })), "CsvFieldTooLong", 2, 2);
    const spanning = await failureAsync(() => readChunks([Buffer.from(`a,b\n1,${long.slice(0, 40)}`), Buffer.from(`${long}\n`)], { maxFieldBytes: 50 }));
    expectCode(spanning, "CsvFieldTooLong", 2, 2);
    expectCode(failure(() => read(`a,b,c\n${long},${long},${long}\n`, { maxRowBytes: 250 })), "CsvRowTooLong", 2);
    expectCode(failure(() => read("a,b\n1,2\n", { maxBytes: 5 })), "CsvTooLarge");
    expectCode(await failureAsync(() => readChunks([Buffer.from("a,b\n"), Buffer.from("1,2\n")], { maxBytes: 6 })), "CsvTooLarge");
  });

  it("fails a 200 000-column header with CsvTooManyColumns before reading the rest of the input", async () => {
    const header = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `c${i}`).join(",") + "\n");
    let served = 0;
    const chunkSize = 4096;
    async function* source(): AsyncGenerator<Buffer> {
      for (let at = 0; at < header.length; at += chunkSize) {
        served++;
        yield header.subarray(at, at + chunkSize);
      }
      for (let row = 0; row < 1000; row++) {
        served++;
        yield Buffer.from("1,".repeat(199_999) + "1\n");
      }
    }
    const error = await failureAsync(() => readCsv(Readable.from(source())));
    expectCode(error, "CsvTooManyColumns", 1);
    expect(error.message).toContain("more than 10000 columns");
    // The header alone is ~1.3 MB: the reader stopped within the first ~20 chunks of it.
    expect(served).toBeLessThan(40);
  });

  it("rejects with the abort reason", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(readCsv(Buffer.from("a\n1\n"), { abortSignal: controller.signal })).rejects.toThrow("stop");
    const midway = new AbortController();
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from("a\n1\n");
      midway.abort(new Error("stopped midway"));
      yield Buffer.from("2\n");
    }
    await expect(readCsv(Readable.from(chunks()), { abortSignal: midway.signal })).rejects.toThrow("stopped midway");
  });

  it("rejects bad options", () => {
    expectCode(failure(() => read("a\n1\n", { delimiter: '"' })), "InvalidArgument");
    expectCode(failure(() => read("a\n1\n", { maxColumns: 0 })), "InvalidArgument");
  });
});

describe("readCsv: a large file from disk", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "retrain-csv-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("streams 200 000 mixed rows in small chunks and reads every value", async () => {
    const path = join(dir, "large.csv");
    const out = createWriteStream(path);
    const rows = 200_000;
    const colors = ["red", "green, blue", 'say "hi"', "multi\nline"];
    let expectedSum = 0;
    let expectedMissing = 0;
    out.write("id,x,color,y\r\n");
    let batch = "";
    for (let i = 0; i < rows; i++) {
      const missing = i % 97 === 0;
      const x = (i % 1000) / 8 - 50;
      if (missing) expectedMissing++;
      else expectedSum += x;
      const color = colors[i % colors.length] as string;
      const quoted = /[",\n]/.test(color) ? `"${color.replaceAll('"', '""')}"` : color;
      batch += `${i},${missing ? "" : x},${quoted},${i % 2}\r\n`;
      if (batch.length > 65536) {
        out.write(batch);
        batch = "";
      }
    }
    out.end(batch);
    await new Promise<void>((resolve, reject) => out.on("finish", resolve).on("error", reject));

    const frame = await readCsv(path, { chunkBytes: 4093 });
    expect(frame.rows).toBe(rows);
    const id = frame.column("id");
    const x = frame.column("x");
    const color = frame.column("color");
    if (id?.kind !== "numeric" || x?.kind !== "numeric" || color?.kind !== "categorical") throw new Error("kinds");
    expect(id.values[rows - 1]).toBe(rows - 1);
    let sum = 0;
    let missing = 0;
    for (const v of x.values) {
      if (Number.isNaN(v)) missing++;
      else sum += v;
    }
    expect(missing).toBe(expectedMissing);
    expect(sum).toBeCloseTo(expectedSum, 6);
    expect(color.levels).toEqual(colors);
    expect(Array.from(color.codes.subarray(0, 8))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    // The same bytes streamed from a file give the same frame as from memory.
    const small = join(dir, "small.csv");
    await writeFile(small, "a,b\n1,x\n2,y\n");
    expect(texts(await readCsv(small))).toEqual(texts(read("a,b\n1,x\n2,y\n")));
  });

  it("checks the file size against maxBytes before reading", async () => {
    const path = join(dir, "big.csv");
    await writeFile(path, "a\n" + "1\n".repeat(100));
    expectCode(await failureAsync(() => readCsv(path, { maxBytes: 100 })), "CsvTooLarge");
  });
});
