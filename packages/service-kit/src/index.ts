// @retrain/service-kit: what every service's HTTP side and startup shares.
export { ConfigError, envBoolean, envDurationMs, envInt, envNumber, loadConfig, parseDurationMs } from "./config.js";
export type { ConfigIssue, EnvRange } from "./config.js";
export { HttpError, INTERNAL_ERROR_MESSAGE, errorBody, routeParam, toHttpError } from "./errors.js";
export type { ErrorBody, ErrorDetail, HttpErrorOptions } from "./errors.js";
export { sendJson, sendJsonText, writeError } from "./respond.js";
export { PRINCIPAL_LOCAL, apiKeyVerifier, authenticateBearer, authenticateBearerSync, bearerToken, principalOf, requireApiKey } from "./auth.js";
export type { ApiKeyVerifier } from "./auth.js";
export { DEFAULT_BODY_LIMIT_BYTES, hasRequestBody, isJsonContentType, readJsonBody, readJsonBodyThen } from "./json-body.js";
export type { ReadJsonBodyOptions } from "./json-body.js";
export { HttpMetrics, MetricsRegistry, normalizeMethod, registerBusMetrics } from "./metrics.js";
export type {
  BoundCounter,
  BoundHistogram,
  BusStatsSource,
  CollectedValue,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  HttpMetricLabel,
  MetricDefinition,
  MetricLabels,
  MetricsRegistryOptions,
  SeriesFamily,
} from "./metrics.js";
export { CLIENT_CLOSED_REQUEST, observeHttpRequest } from "./observe-request.js";
export type { ObserveHttpRequestOptions } from "./observe-request.js";
export { UNMATCHED_ROUTE, createHttpApp } from "./http-app.js";
export type { CreateHttpAppOptions, HttpApp } from "./http-app.js";
export { startHttpServer } from "./http-server.js";
export type { HttpHandler, RunningServer, StartHttpServerOptions } from "./http-server.js";
export { createShutdown } from "./shutdown.js";
export type { CreateShutdownOptions, Shutdown, ShutdownPhase, ShutdownStep } from "./shutdown.js";
export { assertAdmin, assertWorkspaceAccess, canAccessWorkspace } from "./principal.js";
export { KeyHasher, SecretBox, SecretBoxError, kekId, parseKekBase64 } from "./secret-box.js";
export type { Principal } from "./principal.js";
