// Readers for the standard OTEL_* variables, from an explicit env record so that tests and
// services decide what is read and nothing is read at import.
import type { Sampler } from "@opentelemetry/sdk-trace-base";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";

/** Environment variables as read by the setup (package-internal). */
export type Env = Readonly<Record<string, string | undefined>>;

/** A trimmed non-empty value, or undefined. */
export function envString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/** A boolean per the OTel spec: only a case-insensitive "true" is true. */
export function envFlag(env: Env, name: string): boolean {
  return envString(env, name)?.toLowerCase() === "true";
}

/** A non-negative finite number, or undefined when unset or malformed. */
export function envNumber(env: Env, name: string): number | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Parses the W3C-baggage-like `key=value,key2=value2` lists used by OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS; values may be percent-encoded. Malformed entries are skipped.
 */
export function parseKeyValueList(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const entry of raw.split(",")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const key = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (key === "") continue;
    try {
      out[key] = decodeURIComponent(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/** The sampler named by OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG; default parent-based always-on. */
export function samplerFromEnv(env: Env): Sampler {
  const name = envString(env, "OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on";
  const ratio = Math.min(1, envNumber(env, "OTEL_TRACES_SAMPLER_ARG") ?? 1);
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" (both per the OTLP exporter spec).
 */
export function otlpTracesUrl(env: Env): string | undefined {
  const specific = envString(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (specific !== undefined) return specific;
  const base = envString(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base === undefined) return undefined;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

/**
 * The OTLP/HTTP metrics URL: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as is, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/metrics" (both per the OTLP exporter spec).
 */
export function otlpMetricsUrl(env: Env): string | undefined {
  const specific = envString(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  if (specific !== undefined) return specific;
  const base = envString(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base === undefined) return undefined;
  return `${base.replace(/\/+$/, "")}/v1/metrics`;
}

/**
 * Whether metrics are pushed over OTLP, from OTEL_METRICS_EXPORTER (a comma-separated list of
 * `otlp`, `prometheus`, `none`): listed `otlp` pushes (to localhost:4318 when no endpoint is set, as
 * the spec says); unset pushes only when an OTLP endpoint is configured. `prometheus` needs nothing
 * here: every service serves /metrics anyway.
 */
export function metricsPushedOverOtlp(env: Env): boolean {
  const listed = envString(env, "OTEL_METRICS_EXPORTER");
  if (listed === undefined) return otlpMetricsUrl(env) !== undefined;
  return listed
    .toLowerCase()
    .split(",")
    .map((name) => name.trim())
    .includes("otlp");
}
