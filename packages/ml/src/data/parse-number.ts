// Number parsing straight from CSV bytes. The fast path is Clinger's: a decimal mantissa below 2^53
// and a power of ten up to 10^22 are both exact doubles, so one multiplication or division gives the
// correctly rounded result — the same double `Number(text)` returns. Anything else falls back to
// `Number()` on the text.

const ZERO = 0x30;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const LOWER_E = 0x65;
const CASE_BIT = 0x20;

const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const TWO_POW_53 = 9007199254740992;

/**
 * How to rebuild the exact source text of a parsed number, should its column turn categorical later:
 * `TEXT_KEPT` (0) = the text itself was kept; 1…101 = `value.toFixed(code - 1)`; `TEXT_STRING` = `String(value)`;
 * `TEXT_VERIFY` = the fast path could not prove either, so the caller compares `String(value)` with the text.
 */
export const TEXT_KEPT = 0;
/** See {@link TEXT_KEPT}: the text equals `String(value)`. */
export const TEXT_STRING = 255;
/** See {@link TEXT_KEPT}: the caller must check whether the text equals `String(value)`. */
export const TEXT_VERIFY = 254;

/** Output slot of {@link parseDecimalBytes} (reused across calls so the hot loop allocates nothing). */
export interface ParsedNumber {
  value: number;
  textCode: number;
}

/**
 * Parses bytes `[start, end)` as a plain decimal (`-12`, `3.25`, `1e-3`) into `out`. Returns false when
 * the fast path does not apply (too many digits, large exponent, a sign `+`, spaces, not a number) —
 * the caller then tries {@link parseNumberText}.
 */
export function parseDecimalBytes(bytes: Uint8Array, start: number, end: number, out: ParsedNumber): boolean {
  return scanDecimal(bytes, start, end, out) === end;
}

/**
 * Parses the longest plain decimal starting at `start` (stopping at the first byte that cannot
 * continue it, or at `limit`) into `out` and returns where it stopped; -1 when there is no such
 * number or it is outside the fast path. The reader uses it to find a numeric field's end and value in
 * one pass over its bytes.
 */
export function scanDecimal(bytes: Uint8Array, start: number, limit: number, out: ParsedNumber): number {
  let i = start;
  let negative = false;
  if (bytes[i] === MINUS) {
    negative = true;
    i++;
  }
  let mantissa = 0;
  const intStart = i;
  while (i < limit) {
    const digit = (bytes[i] as number) - ZERO;
    if (digit < 0 || digit > 9) break;
    mantissa = mantissa * 10 + digit;
    i++;
  }
  const intDigits = i - intStart;
  let exponent = 0;
  let fracDigits = -1;
  if (i < limit && bytes[i] === DOT) {
    i++;
    const fracStart = i;
    while (i < limit) {
      const digit = (bytes[i] as number) - ZERO;
      if (digit < 0 || digit > 9) break;
      mantissa = mantissa * 10 + digit;
      i++;
    }
    fracDigits = i - fracStart;
    exponent = -fracDigits;
  }
  if (intDigits === 0 && fracDigits <= 0) return -1;
  // Every partial sum was an exact integer iff the (rounded) total is below 2^53.
  if (mantissa >= TWO_POW_53) return -1;
  let hasExponent = false;
  if (i < limit && ((bytes[i] as number) | CASE_BIT) === LOWER_E) {
    hasExponent = true;
    i++;
    let expNegative = false;
    if (bytes[i] === MINUS) {
      expNegative = true;
      i++;
    } else if (bytes[i] === PLUS) {
      i++;
    }
    const expStart = i;
    let explicit = 0;
    while (i < limit) {
      const digit = (bytes[i] as number) - ZERO;
      if (digit < 0 || digit > 9) break;
      explicit = explicit * 10 + digit;
      i++;
    }
    if (i === expStart || explicit > 100000) return -1;
    exponent += expNegative ? -explicit : explicit;
  }

  let value: number;
  if (mantissa === 0) value = 0;
  else if (exponent === 0) value = mantissa;
  else if (exponent > 0 && exponent <= 22) value = mantissa * (POW10[exponent] as number);
  else if (exponent < 0 && exponent >= -22) value = mantissa / (POW10[-exponent] as number);
  else return -1;
  out.value = negative ? -value : value;

  // The text is rebuilt by toFixed(fracDigits) when it is a plain decimal whose digits a double holds
  // exactly (at most 15 significant digits); leading zeros, "5.", ".5", "-0" and exponents are kept verbatim.
  if (hasExponent || intDigits === 0 || fracDigits === 0 || (negative && mantissa === 0)) out.textCode = TEXT_KEPT;
  else if (intDigits > 1 && bytes[intStart] === ZERO) out.textCode = TEXT_KEPT;
  else if (fracDigits < 0) out.textCode = 1;
  else if (fracDigits > 100) out.textCode = TEXT_KEPT;
  else if (intDigits + fracDigits > 15 && significantDigits(bytes, intStart, i) > 15) out.textCode = TEXT_VERIFY;
  else out.textCode = fracDigits + 1;
  return i;
}

/** Digits of a plain decimal from its first non-zero digit on. */
function significantDigits(bytes: Uint8Array, start: number, end: number): number {
  let count = 0;
  let leading = true;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c === DOT) continue;
    if (leading && c === ZERO) continue;
    leading = false;
    count++;
  }
  return count;
}

const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The value of a decimal number's text (surrounding spaces allowed), or `NaN` when it is not one.
 * Stricter than `Number()`: hex, `Infinity`, `1_000` and blank text are not numbers in a CSV.
 */
export function parseNumberText(text: string): number {
  const trimmed = text.trim();
  if (!DECIMAL_TEXT.test(trimmed)) return Number.NaN;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : Number.NaN;
}

/** Rebuilds a number's source text from its value and {@link ParsedNumber.textCode} (not `TEXT_KEPT`). */
export function numberText(value: number, textCode: number): string {
  return textCode === TEXT_STRING ? String(value) : value.toFixed(textCode - 1);
}
