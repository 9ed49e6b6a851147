import type { DiagLogger } from "@opentelemetry/api";
import { DiagLogLevel, SpanKind, SpanStatusCode, context, diag, propagation, trace } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AlwaysOffSampler, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Logger } from "./logger.js";
import type { Env } from "./otel-env.js";
import { envFlag, envNumber, envString, metricsPushedOverOtlp, otlpMetricsUrl, otlpTracesUrl, parseKeyValueList, samplerFromEnv } from "./otel-env.js";
import { processEnvironment } from "./config.js";
import { RegisteredSourcesProducer } from "./metric-source.js";
import { OtlpHttpSpanExporter } from "./otlp-exporter.js";
import type { OtlpHttpSettings } from "./otlp-exporter.js";
import { OtlpHttpMetricExporter } from "./otlp-metric-exporter.js";
import type { SpanKindName } from "./spans.js";
import { setContextManagerRegistered } from "./trace-context.js";

/** Where finished spans go: "auto" picks "otlp" when an OTLP endpoint is configured, else "none". */
export type TelemetryExporter = "auto" | "otlp" | "memory" | "none";

/** What a {@link Telemetry} ended up doing after reading its options and environment. */
export type TelemetryMode = "otlp" | "memory" | "none" | "disabled";

/** Options for {@link setupTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  serviceName: string;
  /** Where OTEL_* variables are read. Default the process environment, read when setupTelemetry is called. */
  env?: Record<string, string | undefined>;
  /** Exporter choice. Default "auto". "memory" keeps spans for {@link Telemetry.finishedSpans}. */
  exporter?: TelemetryExporter;
  /** Receives the SDK's own warnings and errors (e.g. a failed export). Default: they are dropped. */
  logger?: Logger;
}

/** A span as recorded by the in-memory exporter, in plain types. */
export interface FinishedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Absent for a root span; for a span under an extracted context, the remote parent's id. */
  readonly parentSpanId?: string;
  readonly kind: SpanKindName;
  readonly attributes: Readonly<Record<string, FinishedAttributeValue>>;
  readonly status: { readonly code: "unset" | "ok" | "error"; readonly message?: string };
  readonly events: ReadonlyArray<FinishedSpanEvent>;
  readonly startTimeMs: number;
  readonly durationMs: number;
  /** `service.name` of the resource that recorded the span. */
  readonly serviceName: string;
}

/** An event recorded on a {@link FinishedSpan} (e.g. "exception"). */
export interface FinishedSpanEvent {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: Readonly<Record<string, FinishedAttributeValue>>;
}

/** An attribute value as recorded (arrays appear when OTel itself sets them). */
export type FinishedAttributeValue = string | number | boolean | ReadonlyArray<string | number | boolean | null>;

/** Handle on the process's tracing setup. */
export interface Telemetry {
  /** What was set up: exporter in use, or "disabled" when OTEL_SDK_DISABLED=true. */
  readonly mode: TelemetryMode;
  /** The effective `service.name`. */
  readonly serviceName: string;
  /** Whether registered metric sources (every MetricsRegistry) are pushed over OTLP, or not at all. */
  readonly metricsMode: "otlp" | "none";
  /**
   * Exports what is pending (spans, and the metrics once more when pushed over OTLP), detaches from
   * the global API (if still current) and stops. Idempotent.
   */
  shutdown(): Promise<void>;
  /** Exports every finished span now (the batch processor otherwise waits up to its delay), and the metrics when pushed. */
  forceFlush(): Promise<void>;
  /** Spans finished so far; only the "memory" exporter keeps them, otherwise always empty. */
  finishedSpans(): ReadonlyArray<FinishedSpan>;
  /** Forgets the spans kept by the "memory" exporter. */
  resetSpans(): void;
}

interface Installation {
  readonly telemetry: Telemetry;
  /** Whether this setup installed the diag logger, so only it removes it. */
  readonly ownsDiag: boolean;
}

// The one setup whose provider is registered with the global OTel API, if any.
let current: Installation | undefined;

/**
 * Whether spans are being recorded and sent somewhere (an exporter is set up). Hot paths may skip
 * opening a span of their own when this is false and no trace context came in.
 */
export function isTracingRecorded(): boolean {
  return current !== undefined && (current.telemetry.mode === "otlp" || current.telemetry.mode === "memory");
}

function detach(installation: Installation): void {
  if (current !== installation) return;
  current = undefined;
  trace.disable();
  context.disable();
  propagation.disable();
  if (installation.ownsDiag) diag.disable();
  setContextManagerRegistered(false);
}

/**
 * Sets up tracing for this process from `options` and the standard OTEL_* variables: OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none, OTEL_TRACES_SAMPLER[_ARG],
 * OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT/_HEADERS/_TIMEOUT/_COMPRESSION/_PROTOCOL and OTEL_BSP_*.
 * Registers a NodeTracerProvider with the AsyncLocalStorage context manager and the W3C
 * trace-context propagator; OTLP export goes through a batch processor.
 *
 * Metrics: when OTEL_METRICS_EXPORTER lists `otlp` (or is unset and an OTLP endpoint is configured),
 * a MeterProvider with a periodic reader pushes every registered metric source (see
 * registerMetricSource) to OTEL_EXPORTER_OTLP[_METRICS]_ENDPOINT every OTEL_METRIC_EXPORT_INTERVAL ms,
 * under the same resource as the spans; shutdown pushes them a last time.
 *
 * Calling it again (tests do) replaces the previous setup: the previous provider is detached from
 * the global API at once and shut down in the background (its `shutdown()` still resolves when that
 * is done), then the new provider is registered. With OTEL_SDK_DISABLED=true nothing is registered;
 * spans are then non-recording but an incoming traceparent still propagates.
 */
export function setupTelemetry(options: TelemetryOptions): Telemetry {
  const env: Env = options.env ?? processEnvironment();
  const resourceAttributes = parseKeyValueList(envString(env, "OTEL_RESOURCE_ATTRIBUTES"));
  const serviceName =
    envString(env, "OTEL_SERVICE_NAME") ?? resourceAttributes[ATTR_SERVICE_NAME] ?? options.serviceName;

  const previous = current;
  if (previous !== undefined) {
    detach(previous);
    previous.telemetry.shutdown().catch((error: unknown) => {
      options.logger?.warn({ err: error }, "shutting down the previous telemetry setup failed");
    });
  }

  if (envFlag(env, "OTEL_SDK_DISABLED")) return disabledTelemetry(serviceName);

  const mode = resolveMode(options.exporter ?? "auto", env);
  const memory = mode === "memory" ? new InMemorySpanExporter() : undefined;
  const spanProcessors: SpanProcessor[] = [];
  if (memory !== undefined) spanProcessors.push(new SimpleSpanProcessor(memory));
  if (mode === "otlp") spanProcessors.push(otlpProcessor(env));

  const resource = defaultResource().merge(resourceFromAttributes({ ...resourceAttributes, [ATTR_SERVICE_NAME]: serviceName }));
  const provider = new NodeTracerProvider({
    resource,
    // With nowhere to send spans, recording them is pure cost (measured ~15% of a hot request path):
    // sample nothing unless a sampler is asked for. Span contexts still get ids, so logs stay
    // correlated and an incoming traceparent still propagates.
    sampler: mode === "none" && envString(env, "OTEL_TRACES_SAMPLER") === undefined ? new AlwaysOffSampler() : samplerFromEnv(env),
    spanProcessors,
  });
  // Defaults: AsyncLocalStorageContextManager and the W3C trace-context (+ baggage) propagator.
  provider.register();
  setContextManagerRegistered(true);
  if (options.logger !== undefined) diag.setLogger(diagLogger(options.logger), DiagLogLevel.WARN);

  // Not registered as the global MeterProvider: nothing records through the OTel metrics API; the
  // reader's producer reads our registries at each collection.
  const meters = metricsPushedOverOtlp(env) ? otlpMeterProvider(env, resource) : undefined;

  let stopped: Promise<void> | undefined;
  const telemetry: Telemetry = {
    mode,
    serviceName,
    metricsMode: meters === undefined ? "none" : "otlp",
    shutdown() {
      stopped ??= (async () => {
        detach(installation);
        await Promise.all([provider.shutdown(), meters?.shutdown()]);
      })();
      return stopped;
    },
    forceFlush: async () => {
      await Promise.all([provider.forceFlush(), meters?.forceFlush()]);
    },
    finishedSpans: () => (memory === undefined ? [] : memory.getFinishedSpans().map(toFinishedSpan)),
    resetSpans: () => memory?.reset(),
  };
  const installation: Installation = { telemetry, ownsDiag: options.logger !== undefined };
  current = installation;
  return telemetry;
}

function resolveMode(choice: TelemetryExporter, env: Env): Exclude<TelemetryMode, "disabled"> {
  if (choice !== "auto") return choice;
  if (envString(env, "OTEL_TRACES_EXPORTER")?.toLowerCase() === "none") return "none";
  return otlpTracesUrl(env) === undefined ? "none" : "otlp";
}

/** The OTLP/HTTP settings of one signal: its own OTEL_EXPORTER_OTLP_<SIGNAL>_* variable first, then the shared one. */
function otlpSettings(env: Env, signal: "TRACES" | "METRICS", url: string): OtlpHttpSettings {
  const setting = (name: string): string | undefined =>
    envString(env, `OTEL_EXPORTER_OTLP_${signal}_${name}`) ?? envString(env, `OTEL_EXPORTER_OTLP_${name}`);
  return {
    url,
    headers: {
      ...parseKeyValueList(envString(env, "OTEL_EXPORTER_OTLP_HEADERS")),
      ...parseKeyValueList(envString(env, `OTEL_EXPORTER_OTLP_${signal}_HEADERS`)),
    },
    timeoutMs: envNumber(env, `OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`) ?? envNumber(env, "OTEL_EXPORTER_OTLP_TIMEOUT") ?? 10_000,
    compression: setting("COMPRESSION")?.toLowerCase() === "gzip" ? "gzip" : "none",
    // JSON by default, like OTel JS's own OTLP/HTTP exporter; "grpc" is not supported and means protobuf over HTTP.
    protocol: ["http/protobuf", "grpc"].includes(setting("PROTOCOL")?.toLowerCase() ?? "") ? "http/protobuf" : "http/json",
  };
}

function otlpMeterProvider(env: Env, resource: Resource): MeterProvider {
  const exporter = new OtlpHttpMetricExporter(otlpSettings(env, "METRICS", otlpMetricsUrl(env) ?? "http://localhost:4318/v1/metrics"));
  // Zero or malformed values fall back to the spec's defaults; the SDK wants timeout <= interval.
  const intervalMs = positive(envNumber(env, "OTEL_METRIC_EXPORT_INTERVAL")) ?? 60_000;
  const timeoutMs = Math.min(intervalMs, positive(envNumber(env, "OTEL_METRIC_EXPORT_TIMEOUT")) ?? 30_000);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [new RegisteredSourcesProducer()],
  });
  return new MeterProvider({ resource, readers: [reader] });
}

function positive(value: number | undefined): number | undefined {
  return value === undefined || value <= 0 ? undefined : value;
}

function otlpProcessor(env: Env): SpanProcessor {
  const exporter = new OtlpHttpSpanExporter(otlpSettings(env, "TRACES", otlpTracesUrl(env) ?? "http://localhost:4318/v1/traces"));
  // Every BSP setting is given so the processor does not fall back to the process environment.
  return new BatchSpanProcessor(exporter, {
    scheduledDelayMillis: envNumber(env, "OTEL_BSP_SCHEDULE_DELAY") ?? 5000,
    exportTimeoutMillis: envNumber(env, "OTEL_BSP_EXPORT_TIMEOUT") ?? 30_000,
    maxQueueSize: envNumber(env, "OTEL_BSP_MAX_QUEUE_SIZE") ?? 2048,
    maxExportBatchSize: envNumber(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE") ?? 512,
  });
}

function disabledTelemetry(serviceName: string): Telemetry {
  return {
    mode: "disabled",
    serviceName,
    metricsMode: "none",
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
    finishedSpans: () => [],
    resetSpans: () => undefined,
  };
}

function diagLogger(logger: Logger): DiagLogger {
  const warn = (message: string, ...args: unknown[]): void =>
    logger.warn(args.length > 0 ? { otel: args } : {}, `opentelemetry: ${message}`);
  const ignore = (): void => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}

const kindNames: Record<SpanKind, SpanKindName> = {
  [SpanKind.INTERNAL]: "internal",
  [SpanKind.SERVER]: "server",
  [SpanKind.CLIENT]: "client",
  [SpanKind.PRODUCER]: "producer",
  [SpanKind.CONSUMER]: "consumer",
};

const statusNames: Record<SpanStatusCode, FinishedSpan["status"]["code"]> = {
  [SpanStatusCode.UNSET]: "unset",
  [SpanStatusCode.OK]: "ok",
  [SpanStatusCode.ERROR]: "error",
};

function plainAttributes(attributes: ReadableSpan["attributes"]): Record<string, FinishedAttributeValue> {
  const out: Record<string, FinishedAttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value.map((item: unknown) => plainItem(item)) : (value as FinishedAttributeValue);
  }
  return out;
}

function plainItem(item: unknown): string | number | boolean | null {
  return typeof item === "string" || typeof item === "number" || typeof item === "boolean" ? item : null;
}

function toFinishedSpan(span: ReadableSpan): FinishedSpan {
  const spanContext = span.spanContext();
  const status = span.status.message === undefined
    ? { code: statusNames[span.status.code] }
    : { code: statusNames[span.status.code], message: span.status.message };
  return {
    name: span.name,
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    ...(span.parentSpanContext !== undefined && { parentSpanId: span.parentSpanContext.spanId }),
    kind: kindNames[span.kind],
    attributes: plainAttributes(span.attributes),
    status,
    events: span.events.map((event) => ({
      name: event.name,
      timeMs: hrTimeToMilliseconds(event.time),
      attributes: plainAttributes(event.attributes ?? {}),
    })),
    startTimeMs: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    serviceName: String(span.resource.attributes[ATTR_SERVICE_NAME] ?? ""),
  };
}
