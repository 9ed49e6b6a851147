// Reading OTLP/HTTP JSON trace requests (ExportTraceServiceRequest) into plain spans: what a
// receiver (the registry's POST /v1/traces, a test's collector) needs, without OTel types.
import type { FinishedAttributeValue } from "./setup.js";
import type { SpanKindName } from "./spans.js";

/** A span as received over OTLP/HTTP JSON. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent for a root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: SpanKindName;
  /** `service.name` of the resource that sent it ("" when it had none). */
  readonly serviceName: string;
  /** Epoch milliseconds (fractional). */
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly status: { readonly code: "unset" | "ok" | "error"; readonly message?: string };
  readonly attributes: Readonly<Record<string, FinishedAttributeValue>>;
  /** Names of the span's events (e.g. "exception"), in order. */
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, FinishedAttributeValue>> }>;
}

/** A request body that is not an OTLP JSON trace export. */
export class OtlpDecodeError extends Error {
  override readonly name = "OtlpDecodeError";
  constructor(
    message: string,
    /** Where in the document it went wrong (e.g. "resourceSpans[0].scopeSpans"). */
    readonly path: string,
  ) {
    super(`${message} (at ${path})`);
  }
}

const KINDS: Record<number, SpanKindName> = { 0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer" };
const STATUSES: Record<number, "unset" | "ok" | "error"> = { 0: "unset", 1: "ok", 2: "error" };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpDecodeError("expected an array", path);
  return value;
}

/** OTLP JSON ids are hex; a protobuf-to-JSON mapping may send base64 instead. */
function id(value: unknown, bytes: number, path: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new OtlpDecodeError("expected an id string", path);
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, "base64");
  if (decoded.length === bytes) return decoded.toString("hex");
  throw new OtlpDecodeError(`expected a ${bytes}-byte id`, path);
}

/** Nanoseconds as a JSON string or number (or OTel JS's {low, high} long bits) → epoch ms. */
function nanosToMs(value: unknown): number {
  if (typeof value === "string") {
    // Split to keep precision: an epoch in nanoseconds is past 2^53.
    const text = value.trim();
    if (!/^\d+$/.test(text)) return 0;
    return text.length <= 6 ? Number(text) / 1e6 : Number(text.slice(0, -6)) + Number(text.slice(-6)) / 1e6;
  }
  if (typeof value === "number") return value / 1e6;
  if (isRecord(value) && typeof value["low"] === "number" && typeof value["high"] === "number") {
    return (value["high"] * 2 ** 32 + (value["low"] >>> 0)) / 1e6;
  }
  return 0;
}

function anyValue(value: unknown): FinishedAttributeValue | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value["stringValue"] === "string") return value["stringValue"];
  if (typeof value["boolValue"] === "boolean") return value["boolValue"];
  if (typeof value["doubleValue"] === "number") return value["doubleValue"];
  const int = value["intValue"];
  if (typeof int === "number") return int;
  if (typeof int === "string" && /^-?\d+$/.test(int)) return Number(int);
  const array = value["arrayValue"];
  if (isRecord(array) && Array.isArray(array["values"])) {
    return array["values"].map((item) => {
      const plain = anyValue(item);
      return typeof plain === "string" || typeof plain === "number" || typeof plain === "boolean" ? plain : null;
    });
  }
  return undefined;
}

function attributes(value: unknown, path: string): Record<string, FinishedAttributeValue> {
  const out: Record<string, FinishedAttributeValue> = {};
  for (const [i, entry] of list(value, path).entries()) {
    if (!isRecord(entry) || typeof entry["key"] !== "string") throw new OtlpDecodeError("expected {key, value}", `${path}[${i}]`);
    const plain = anyValue(entry["value"]);
    if (plain !== undefined) out[entry["key"]] = plain;
  }
  return out;
}

/**
 * Reads an OTLP/HTTP JSON `ExportTraceServiceRequest` (`{resourceSpans:[{resource, scopeSpans:[{spans}]}]}`)
 * into plain spans. Throws {@link OtlpDecodeError} for a body of another shape.
 */
export function decodeOtlpTraces(body: unknown): ReceivedSpan[] {
  if (!isRecord(body)) throw new OtlpDecodeError("expected a JSON object", "$");
  const spans: ReceivedSpan[] = [];
  for (const [r, resourceSpans] of list(body["resourceSpans"], "resourceSpans").entries()) {
    const rPath = `resourceSpans[${r}]`;
    if (!isRecord(resourceSpans)) throw new OtlpDecodeError("expected an object", rPath);
    const resource = isRecord(resourceSpans["resource"]) ? attributes(resourceSpans["resource"]["attributes"], `${rPath}.resource.attributes`) : {};
    const serviceName = typeof resource["service.name"] === "string" ? resource["service.name"] : "";
    for (const [s, scopeSpans] of list(resourceSpans["scopeSpans"], `${rPath}.scopeSpans`).entries()) {
      const sPath = `${rPath}.scopeSpans[${s}]`;
      if (!isRecord(scopeSpans)) throw new OtlpDecodeError("expected an object", sPath);
      for (const [k, span] of list(scopeSpans["spans"], `${sPath}.spans`).entries()) {
        const path = `${sPath}.spans[${k}]`;
        if (!isRecord(span)) throw new OtlpDecodeError("expected an object", path);
        const traceId = id(span["traceId"], 16, `${path}.traceId`);
        const spanId = id(span["spanId"], 8, `${path}.spanId`);
        if (traceId === undefined || spanId === undefined) throw new OtlpDecodeError("a span needs traceId and spanId", path);
        const parentSpanId = id(span["parentSpanId"], 8, `${path}.parentSpanId`);
        const start = nanosToMs(span["startTimeUnixNano"]);
        const end = nanosToMs(span["endTimeUnixNano"]);
        const status = isRecord(span["status"]) ? span["status"] : {};
        const code = STATUSES[typeof status["code"] === "number" ? status["code"] : 0] ?? "unset";
        const message = typeof status["message"] === "string" && status["message"] !== "" ? status["message"] : undefined;
        spans.push({
          traceId,
          spanId,
          ...(parentSpanId !== undefined ? { parentSpanId } : {}),
          name: typeof span["name"] === "string" ? span["name"] : "",
          kind: KINDS[typeof span["kind"] === "number" ? span["kind"] : 0] ?? "internal",
          serviceName,
          startTimeMs: start,
          durationMs: Math.max(0, end - start),
          status: message === undefined ? { code } : { code, message },
          attributes: attributes(span["attributes"], `${path}.attributes`),
          events: list(span["events"], `${path}.events`).map((event, e) => ({
            name: isRecord(event) && typeof event["name"] === "string" ? event["name"] : "",
            attributes: isRecord(event) ? attributes(event["attributes"], `${path}.events[${e}].attributes`) : {},
          })),
        });
      }
    }
  }
  return spans;
}
