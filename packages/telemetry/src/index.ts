// @retrain/telemetry: the only door to OpenTelemetry and logging. No OTel or pino type crosses it.
export { isTracingRecorded, setupTelemetry } from "./setup.js";
export type {
  FinishedAttributeValue,
  FinishedSpan,
  FinishedSpanEvent,
  Telemetry,
  TelemetryExporter,
  TelemetryMode,
  TelemetryOptions,
} from "./setup.js";
export { registerMetricSource } from "./metric-source.js";
export type { CollectedMetric, HistogramPoint, MetricAttributes, MetricPoint, MetricSource } from "./metric-source.js";
export { failActiveSpan, messagingSpan, startMessagingSpan, startSpan, withSpan } from "./spans.js";
export type {
  MessagingOperation,
  MessagingSpanOptions,
  SpanAttributes,
  SpanAttributeValue,
  SpanHandle,
  SpanKindName,
  SpanOptions,
  StartedSpan,
} from "./spans.js";
export {
  activeTraceContext,
  currentTraceIds,
  extractTraceContext,
  injectTraceHeaders,
  runWithTraceContext,
} from "./trace-context.js";
export type { TraceContext, TraceIds } from "./trace-context.js";
export { tracedFetch } from "./http-client.js";
export type { TracedFetchOptions } from "./http-client.js";
export { OtlpDecodeError, decodeOtlpTraces } from "./otlp-json.js";
export type { ReceivedSpan } from "./otlp-json.js";
export { LOG_LEVELS, REDACTED, createLogger, scrubSecrets, silentLogger } from "./logger.js";
export type { CreateLoggerOptions, LogDestination, LogFn, LogLevel, Logger } from "./logger.js";
