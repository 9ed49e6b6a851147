// Metrics recorded outside the OTel API (service-kit's Prometheus registry), read by the OTel metrics
// SDK at collection time. Why a MetricProducer over our registry rather than OTel instruments: the
// hot path (RRS execute) records into pre-bound series that are plain number additions; mirroring
// every observation into OTel instruments would double that cost, and reading the registry when
// the SDK collects costs nothing between exports and keeps /metrics and OTLP in agreement.
import { ValueType } from "@opentelemetry/api";
import { hrTime, millisToHrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import type { CollectionResult, MetricData, MetricProducer, ScopeMetrics } from "@opentelemetry/sdk-metrics";
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics";

/** Attributes of one series (Prometheus labels). */
export type MetricAttributes = Readonly<Record<string, string>>;

/** One value of a counter or gauge series. */
export interface MetricPoint {
  readonly attributes: MetricAttributes;
  readonly value: number;
}

/** One histogram series: `bucketCounts` holds per-bucket (not cumulative) counts, one more than the bounds. */
export interface HistogramPoint {
  readonly attributes: MetricAttributes;
  readonly count: number;
  readonly sum: number;
  readonly bucketCounts: readonly number[];
}

/** A metric as read from a {@link MetricSource}; names keep their Prometheus form (`_total`, `_seconds`). */
export type CollectedMetric =
  | { readonly kind: "counter" | "gauge"; readonly name: string; readonly description: string; readonly points: readonly MetricPoint[] }
  | {
      readonly kind: "histogram";
      readonly name: string;
      readonly description: string;
      /** Inclusive upper bounds of the finite buckets, ascending. */
      readonly bounds: readonly number[];
      readonly points: readonly HistogramPoint[];
    };

/** Something that holds metrics and can read them all when asked (e.g. service-kit's MetricsRegistry). */
export interface MetricSource {
  /** The instrumentation scope its metrics are exported under. */
  readonly scope: string;
  /** When its cumulative counts started (ms since the epoch). */
  readonly startTimeMs: number;
  /** Every metric's current values. */
  collectMetrics(): Promise<readonly CollectedMetric[]>;
}

// Held weakly: a source is exported while something else keeps it alive (a service's registry lives
// as long as the process); registries made and dropped by tests are not kept by this set.
const sources = new Set<WeakRef<MetricSource>>();

/**
 * Makes `source` part of what is pushed over OTLP whenever setupTelemetry exports metrics (before
 * or after this call). Registering the same source twice has no further effect.
 */
export function registerMetricSource(source: MetricSource): void {
  for (const ref of sources) if (ref.deref() === source) return;
  sources.add(new WeakRef(source));
}

function liveSources(): MetricSource[] {
  const live: MetricSource[] = [];
  for (const ref of sources) {
    const source = ref.deref();
    if (source === undefined) sources.delete(ref);
    else live.push(source);
  }
  return live;
}

/**
 * The SDK's view of every registered source (package-internal). The reader puts the meter
 * provider's resource on what this returns; its own resource is left empty.
 */
export class RegisteredSourcesProducer implements MetricProducer {
  async collect(): Promise<CollectionResult> {
    const errors: unknown[] = [];
    const scopeMetrics: ScopeMetrics[] = [];
    const endTime = hrTime();
    for (const source of liveSources()) {
      try {
        const startTime = millisToHrTime(source.startTimeMs);
        const metrics = (await source.collectMetrics()).filter((metric) => metric.points.length > 0);
        if (metrics.length > 0) scopeMetrics.push({ scope: { name: source.scope }, metrics: metrics.map((metric) => toMetricData(metric, startTime, endTime)) });
      } catch (error) {
        errors.push(new Error(`reading the metrics of ${source.scope} for OTLP failed`, { cause: error }));
      }
    }
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors };
  }
}

/** A unit per the Prometheus name's suffix (UCUM, as OTLP wants), else none. */
function unitOf(name: string): string {
  if (name.endsWith("_seconds")) return "s";
  if (name.endsWith("_bytes")) return "By";
  return "";
}

function toMetricData(metric: CollectedMetric, startTime: [number, number], endTime: [number, number]): MetricData {
  const descriptor = { name: metric.name, description: metric.description, unit: unitOf(metric.name), valueType: ValueType.DOUBLE };
  switch (metric.kind) {
    case "counter":
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: metric.points.map((point) => ({ startTime, endTime, attributes: { ...point.attributes }, value: point.value })),
      };
    case "gauge":
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: metric.points.map((point) => ({ startTime, endTime, attributes: { ...point.attributes }, value: point.value })),
      };
    case "histogram":
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: metric.points.map((point) => ({
          startTime,
          endTime,
          attributes: { ...point.attributes },
          value: { buckets: { boundaries: [...metric.bounds], counts: [...point.bucketCounts] }, count: point.count, sum: point.sum },
        })),
      };
  }
}
