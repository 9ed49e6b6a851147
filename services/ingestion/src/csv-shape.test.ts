import { HttpError } from "@retrain/service-kit";
import { CsvShapeCheck } from "./csv-shape.js";

/** Feeds `text` in chunks of `size` bytes; returns the HttpError code, or "ok". */
function verdict(input: string | Buffer, size = 7, limits = { maxColumns: 4, maxFieldBytes: 16, maxRowBytes: 40 }): string {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  const check = new CsvShapeCheck(limits);
  try {
    for (let i = 0; i < bytes.length; i += size) check.push(bytes.subarray(i, i + size));
    check.end();
    return "ok";
  } catch (error) {
    if (error instanceof HttpError) return `${error.status} ${error.code}: ${error.message}`;
    throw error;
  }
}

describe("the upload's CSV shape check (streamed, any chunking)", () => {
  it("accepts RFC 4180 quoting: delimiters, line breaks and doubled quotes inside quotes, quotes inside unquoted fields", () => {
    expect(verdict('a,b,c\n"x,y","line\nbreak","say ""hi"""\n1,ab"c,3')).toBe("ok");
    expect(verdict("a,b\r\n1,2\r\n", 1)).toBe("ok");
  });

  it("refuses an unterminated quote, naming the line where the field starts", () => {
    expect(verdict('a,b\n1,"open\n2,3\n')).toBe("400 CsvUnterminatedQuote: The quoted field that starts on line 2 is never closed.");
  });

  it("refuses too many fields in any row, including a last row without a line break", () => {
    expect(verdict("a,b,c,d,e\n")).toBe("400 CsvTooManyColumns: Line 1 has more than 4 fields.");
    expect(verdict("a,b\n1,2,3,4,5")).toBe("400 CsvTooManyColumns: Line 2 has more than 4 fields.");
    expect(verdict('a,b\n"1,2,3,4,5",2\n')).toBe("ok");
  });

  it("refuses a field or a row over its limit with 413", () => {
    expect(verdict(`a,b\n${"x".repeat(17)},1\n`)).toBe("413 CsvFieldTooLarge: A field on line 2 is longer than 16 bytes.");
    expect(verdict(`a,b\n${"x,".repeat(15)}\n`, 7, { maxColumns: 100, maxFieldBytes: 16, maxRowBytes: 20 })).toBe("413 CsvRowTooLarge: Row 2 is longer than 20 bytes.");
  });

  it("refuses invalid UTF-8, also a multi-byte character cut by a chunk boundary only when it is really cut off", () => {
    expect(verdict(Buffer.from("a,é\n1,€\n"), 1)).toBe("ok");
    expect(verdict(Buffer.concat([Buffer.from("a,b\n1,"), Buffer.from([0xc3, 0x28])]))).toBe("400 InvalidUtf8: The dataset is not valid UTF-8 (near line 2).");
    expect(verdict(Buffer.concat([Buffer.from("a,b\n1,"), Buffer.from([0xe2, 0x82])]))).toBe("400 InvalidUtf8: The dataset ends inside a UTF-8 character.");
  });
});
