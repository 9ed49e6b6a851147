import { hostname } from "node:os";
import { pino } from "pino";
import { currentTraceIds } from "./trace-context.js";

/** Log levels, most to least severe; "silent" logs nothing. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log method: a message, or structured fields (an `err` field for errors) and a message. */
export interface LogFn {
  (message: string): void;
  (fields: Record<string, unknown>, message?: string): void;
}

/**
 * The logger every package receives: JSON lines with `trace_id`/`span_id` of the active span.
 * Our own small interface so callers do not depend on pino.
 */
export interface Logger {
  /** Current minimum level; assignable at runtime. */
  level: string;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** Whether a line at `level` would be written (to skip building costly fields). */
  isLevelEnabled(level: string): boolean;
  /** A logger whose lines all carry `bindings` (e.g. `{ run_id, event_id }`). */
  child(bindings: Record<string, unknown>): Logger;
}

/** Where log lines go; each call receives one complete JSON line. */
export interface LogDestination {
  write(line: string): void;
}

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Written as `name` on every line (the service or component). */
  name: string;
  /** Minimum level. Default "info". */
  level?: LogLevel;
  /** Default: standard output. Tests pass a collector. */
  destination?: LogDestination;
  /** Fields on every line, in addition to `pid` and `hostname`. Default none. */
  base?: Record<string, unknown>;
}

/** The censor written in place of secret values. */
export const REDACTED = "[redacted]";

// Secret-bearing fields, at top level and one level down (pino's wildcard matches one level).
const SECRET_FIELDS = [
  "key",
  "apiKey",
  "authorization",
  "primaryKey",
  "secondaryKey",
  "password",
  "connectionString",
  "sasToken",
] as const;
const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  "headers.authorization",
  "*.headers.authorization",
  "SasBlobToken",
  "*.SasBlobToken",
  "ConnectionString",
  "*.ConnectionString",
];

// Secrets inside free text (an error message quoting a URL or a connection string): a SAS
// signature, an account or shared access key, a bearer token. Scrubbed from the finished line, so
// no code path that formats a message can leak one.
const SECRET_IN_TEXT = /\b(sig|AccountKey|SharedAccessKey|SharedAccessSignature|code)=([^&;"\s\\]+)|\b(Bearer) ([A-Za-z0-9._~+/=-]+)/g;

/** Replaces secret values embedded in text with {@link REDACTED} (package-internal; exported for tests). */
export function scrubSecrets(line: string): string {
  // Most lines hold none of the markers: one cheap test before the replacing scan.
  if (!/sig=|Key=|Signature=|code=|Bearer /.test(line)) return line;
  return line.replace(SECRET_IN_TEXT, (_match, name: string | undefined, _value: string | undefined, bearer: string | undefined) =>
    bearer !== undefined ? `${bearer} ${REDACTED}` : `${name ?? ""}=${REDACTED}`,
  );
}

/**
 * A JSON-lines logger. Each line carries `trace_id`/`span_id` of the span active where it is
 * logged; fields named like secrets (key, apiKey, authorization, password, connectionString,
 * sasToken, primaryKey, secondaryKey, SasBlobToken, ConnectionString, at top level or one level
 * deep) are written as "[redacted]", and so are secrets quoted inside text (`sig=`, `AccountKey=`,
 * `SharedAccessKey=`, `code=`, `Bearer <token>`).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const settings = {
    name: options.name,
    level: options.level ?? "info",
    base: { pid: process.pid, hostname: hostname(), ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than numbers: readable in a terminal and queryable as-is.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: scrubSecrets },
    mixin: () => {
      const { traceId, spanId } = currentTraceIds();
      return traceId === undefined ? {} : { trace_id: traceId, span_id: spanId };
    },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** A logger that writes nothing, for tests and defaults. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
