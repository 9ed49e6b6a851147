import { z } from "zod";

/** One invalid environment variable and what is wrong with it (never its value: it may be a secret). */
export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/** Thrown by {@link loadConfig}: lists every invalid variable at once, so one restart fixes them all. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable} ${i.problem}`).join("; ")}`, options);
    this.issues = issues;
  }
}

/**
 * Parses `env` (default `process.env`, read when called) with a zod schema of environment variables.
 * Throws {@link ConfigError} naming every invalid variable with its problem; values are never echoed.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue): ConfigIssue => {
    const variable = issue.path.length > 0 ? issue.path.map(String).join(".") : "(environment)";
    const missing = issue.path.length === 1 && env[String(issue.path[0])] === undefined;
    return { variable, problem: missing ? "is required but not set" : issue.message };
  });
  throw new ConfigError(issues, { cause: result.error });
}

/** Bounds for the numeric helpers; both inclusive and optional. */
export interface EnvRange {
  min?: number;
  max?: number;
}

function checkRange(value: number, range: EnvRange, unit = ""): string | undefined {
  if (range.min !== undefined && value < range.min) return `must be at least ${range.min}${unit}`;
  if (range.max !== undefined && value > range.max) return `must be at most ${range.max}${unit}`;
  return undefined;
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** A boolean variable: true/false, 1/0, yes/no, on/off (any case). Use `.default(false)` for optional ones. */
export function envBoolean(): z.ZodType<boolean, string> {
  return z.string().transform((raw, ctx) => {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    ctx.issues.push({ code: "custom", input: raw, message: "must be a boolean (true/false, 1/0, yes/no, on/off)" });
    return z.NEVER;
  });
}

/** A finite decimal number, optionally bounded. */
export function envNumber(range: EnvRange = {}): z.ZodType<number, string> {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = Number(text);
    const problem = text === "" || !Number.isFinite(value) ? "must be a number" : checkRange(value, range);
    if (problem === undefined) return value;
    ctx.issues.push({ code: "custom", input: raw, message: problem });
    return z.NEVER;
  });
}

/** An integer in decimal digits (optional sign), optionally bounded, e.g. a port: `envInt({ min: 0, max: 65535 })`. */
export function envInt(range: EnvRange = {}): z.ZodType<number, string> {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = Number(text);
    const problem =
      !/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(value) ? "must be an integer" : checkRange(value, range);
    if (problem === undefined) return value;
    ctx.issues.push({ code: "custom", input: raw, message: problem });
    return z.NEVER;
  });
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "30s", "1.5s", "2m", "1h", "30d" or a bare number of milliseconds; undefined if malformed. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (match === null) return undefined;
  const amount = Number(match[1]);
  const unit = DURATION_UNITS_MS[(match[2] ?? "ms").toLowerCase()] ?? 1;
  return Math.round(amount * unit);
}

/** A duration ("500ms", "30s", "2m", "1h", "30d", bare number = ms) as milliseconds, optionally bounded (in ms). */
export function envDurationMs(range: EnvRange = {}): z.ZodType<number, string> {
  return z.string().transform((raw, ctx) => {
    const value = parseDurationMs(raw);
    const problem =
      value === undefined ? 'must be a duration such as "500ms", "30s", "2m", "1h" or "30d"' : checkRange(value, range, " ms");
    if (problem === undefined && value !== undefined) return value;
    ctx.issues.push({ code: "custom", input: raw, message: problem ?? "must be a duration" });
    return z.NEVER;
  });
}
