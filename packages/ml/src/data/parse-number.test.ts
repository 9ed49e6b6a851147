import { TEXT_KEPT, TEXT_VERIFY, numberText, parseDecimalBytes, parseNumberText, type ParsedNumber } from "./parse-number.js";
import { SeededRandom } from "./random.js";

function parse(text: string): ParsedNumber | undefined {
  const bytes = Buffer.from(text, "latin1");
  const out: ParsedNumber = { value: 0, textCode: 0 };
  return parseDecimalBytes(bytes, 0, bytes.length, out) ? out : undefined;
}

/** A random decimal text in the shapes CSV writers produce. */
function randomDecimal(random: SeededRandom): string {
  const sign = random.nextInt(2) === 0 ? "" : "-";
  const intPart = random.nextInt(4) === 0 ? "0" : String(random.nextInt(10 ** random.nextInt(9)));
  const fracDigits = random.nextInt(12);
  let frac = "";
  for (let i = 0; i < fracDigits; i++) frac += String(random.nextInt(10));
  const exponent = random.nextInt(6) === 0 ? `e${random.nextInt(2) === 0 ? "-" : "+"}${random.nextInt(40)}` : "";
  return `${sign}${intPart}${fracDigits > 0 ? `.${frac}` : ""}${exponent}`;
}

describe("parseDecimalBytes", () => {
  it("returns the same double as Number() for 100 000 random decimals", () => {
    const random = new SeededRandom(7);
    let fast = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const text = randomDecimal(random);
      const parsed = parse(text);
      if (parsed === undefined) {
        if (!Object.is(parseNumberText(text), Number(text))) mismatches.push(`slow ${text}`);
        continue;
      }
      fast++;
      if (!Object.is(parsed.value, Number(text))) mismatches.push(`value ${text}`);
      // A text code other than "kept" must rebuild exactly the source text.
      if (parsed.textCode !== TEXT_KEPT && parsed.textCode !== TEXT_VERIFY && numberText(parsed.value, parsed.textCode) !== text) {
        mismatches.push(`text ${text}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(fast).toBeGreaterThan(80_000);
  });

  it("matches Number() on shortest round-trip texts of random doubles", () => {
    const random = new SeededRandom(11);
    const mismatches: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const value = (random.nextFloat() - 0.5) * 10 ** (random.nextInt(20) - 10);
      const text = String(value);
      const result = parse(text)?.value ?? parseNumberText(text);
      if (result !== value) mismatches.push(text);
    }
    expect(mismatches).toEqual([]);
  });

  it("declines what is not a plain decimal", () => {
    for (const text of ["", "-", ".", "1e", "1e+", "+1", " 1", "1 ", "0x1", "1.2.3", "--1", "1e400", "12345678901234567890"]) {
      expect(parse(text)).toBeUndefined();
    }
  });

  it("records how to rebuild the text", () => {
    expect(parse("12")?.textCode).toBe(1);
    expect(parse("1.50")?.textCode).toBe(3);
    expect(numberText(1.5, 3)).toBe("1.50");
    for (const kept of ["007", "1e3", "-0", "-0.0", "5.", ".5"]) expect(parse(kept)?.textCode).toBe(TEXT_KEPT);
    expect(parse("0.1234567890123456")?.textCode).toBe(TEXT_VERIFY);
  });
});

describe("parseNumberText", () => {
  it("accepts decimals with surrounding spaces and rejects other Number() syntax", () => {
    expect(parseNumberText(" 4.5 ")).toBe(4.5);
    expect(parseNumberText("+3")).toBe(3);
    expect(parseNumberText("1e-400")).toBe(0);
    for (const text of ["", "  ", "0x10", "0b1", "Infinity", "1_000", "1e400", "abc"]) expect(parseNumberText(text)).toBeNaN();
  });
});
