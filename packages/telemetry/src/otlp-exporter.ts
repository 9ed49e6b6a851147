// OTLP/HTTP span exporter and transport on node:http with OTel's own request serializers (the
// metric exporter in otlp-metric-exporter.ts shares the transport).
//
// Why not @opentelemetry/exporter-trace-otlp-http: its transport loads node:http through a dynamic
// `import()` at the first export, which throws inside jest's CommonJS VM ("A dynamic import
// callback was invoked without --experimental-vm-modules", open-telemetry/opentelemetry-js#6035),
// so the exporter could not be tested against a real receiver. This one imports node:http statically
// and keeps the spec's behaviour: retries on 429/502/503/504 and network errors with exponential
// backoff (honouring Retry-After) within the export timeout, optional gzip, JSON or protobuf bodies.
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { gzipSync } from "node:zlib";
import type { ExportResult } from "@opentelemetry/core";
import { ExportResultCode } from "@opentelemetry/core";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

/** Settings of {@link OtlpHttpTransport} (package-internal). */
export interface OtlpHttpSettings {
  /** Full signal URL, e.g. http://collector:4318/v1/traces or …/v1/metrics. */
  url: string;
  headers: Record<string, string>;
  /** Bound on one export including its retries. */
  timeoutMs: number;
  compression: "gzip" | "none";
  protocol: "http/json" | "http/protobuf";
}

/** The outcome of one POST. */
type Attempt = { ok: true } | { ok: false; retryable: boolean; retryAfterMs?: number; error: Error };

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;

/** Exports spans to an OTLP/HTTP endpoint (package-internal; used by setupTelemetry). */
export class OtlpHttpSpanExporter implements SpanExporter {
  readonly #transport: OtlpHttpTransport;

  constructor(settings: OtlpHttpSettings) {
    this.#transport = new OtlpHttpTransport(settings);
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const json = this.#transport.settings.protocol === "http/json";
    this.#transport.export(json ? JsonTraceSerializer.serializeRequest(spans) : ProtobufTraceSerializer.serializeRequest(spans), "spans", resultCallback);
  }

  forceFlush(): Promise<void> {
    return this.#transport.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#transport.shutdown();
  }
}

/**
 * POSTs serialized OTLP requests (spans or metrics) with the spec's retries within the export
 * timeout, and tracks what is in flight so a flush or shutdown waits for it (package-internal).
 */
export class OtlpHttpTransport {
  readonly settings: OtlpHttpSettings;
  readonly #url: URL;
  readonly #agent: HttpAgent;
  readonly #pending = new Set<Promise<void>>();
  #stopped = false;

  constructor(settings: OtlpHttpSettings) {
    this.settings = settings;
    this.#url = new URL(settings.url);
    this.#agent = this.#url.protocol === "https:" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /** Sends one serialized request (`what` names its content in errors) and reports the outcome. */
  export(payload: Uint8Array | undefined, what: string, resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error(`OTLP ${what} exporter to ${this.settings.url} is shut down`) });
      return;
    }
    if (payload === undefined) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error(`${what} could not be serialized for OTLP`) });
      return;
    }
    const json = this.settings.protocol === "http/json";
    const sending = this.#sendWithRetries(payload, json ? "application/json" : "application/x-protobuf").then(
      () => resultCallback({ code: ExportResultCode.SUCCESS }),
      (error: unknown) =>
        resultCallback({ code: ExportResultCode.FAILED, error: new Error(`OTLP export of ${what} to ${this.settings.url} failed: ${asError(error).message}`, { cause: error }) }),
    );
    this.#pending.add(sending);
    void sending.finally(() => this.#pending.delete(sending));
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#pending);
  }

  async shutdown(): Promise<void> {
    this.#stopped = true;
    await this.forceFlush();
    this.#agent.destroy();
  }

  async #sendWithRetries(payload: Uint8Array, contentType: string): Promise<void> {
    const compressed = this.settings.compression === "gzip";
    const body = compressed ? gzipSync(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const headers: Record<string, string> = {
      ...this.settings.headers,
      "content-type": contentType,
      "content-length": String(body.byteLength),
      ...(compressed && { "content-encoding": "gzip" }),
    };
    const deadline = Date.now() + this.settings.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      const result = await this.#post(body, headers, Math.max(1, remaining));
      if (result.ok) return;
      const backoff =
        result.retryAfterMs ?? Math.random() * Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** attempt);
      if (!result.retryable || this.#stopped || Date.now() + backoff >= deadline) throw result.error;
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
    }
  }

  #post(body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<Attempt> {
    const send = this.#url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Attempt>((resolve) => {
      const req = send(this.#url, { method: "POST", headers, agent: this.#agent, timeout: timeoutMs }, (res) => {
        readResponse(res).then(
          (text) => resolve(outcome(res, text)),
          (error: unknown) => resolve({ ok: false, retryable: true, error: asError(error) }),
        );
      });
      req.on("timeout", () => req.destroy(new Error(`OTLP export timed out after ${timeoutMs} ms`)));
      req.on("error", (error) => resolve({ ok: false, retryable: true, error }));
      req.end(body);
    });
  }
}

function outcome(res: IncomingMessage, text: string): Attempt {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return { ok: true };
  const error = new Error(`OTLP export to the collector failed with HTTP ${status}: ${text.slice(0, 300)}`);
  if (!RETRYABLE_STATUSES.has(status)) return { ok: false, retryable: false, error };
  const retryAfterMs = parseRetryAfter(res.headers["retry-after"]);
  return retryAfterMs === undefined ? { ok: false, retryable: true, error } : { ok: false, retryable: true, retryAfterMs, error };
}

function parseRetryAfter(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

async function readResponse(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const buffer = chunk as Buffer;
    size += buffer.byteLength;
    // A collector's answer is small; cap what we hold of an unexpected one.
    if (size <= 64 * 1024) chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
