// An OTLP/HTTP metric exporter on the span exporter's transport. Why not
// @opentelemetry/exporter-metrics-otlp-http: it shares the trace exporter's transport, whose dynamic
// `import()` of node:http cannot run inside jest (see otlp-exporter.ts), and this one is a dozen lines.
import type { ExportResult } from "@opentelemetry/core";
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from "@opentelemetry/otlp-transformer";
import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { AggregationTemporality } from "@opentelemetry/sdk-metrics";
import type { OtlpHttpSettings } from "./otlp-exporter.js";
import { OtlpHttpTransport } from "./otlp-exporter.js";

/** Pushes collected metrics to an OTLP/HTTP endpoint (package-internal; used by setupTelemetry). */
export class OtlpHttpMetricExporter implements PushMetricExporter {
  readonly #transport: OtlpHttpTransport;

  constructor(settings: OtlpHttpSettings) {
    this.#transport = new OtlpHttpTransport(settings);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const json = this.#transport.settings.protocol === "http/json";
    this.#transport.export(json ? JsonMetricsSerializer.serializeRequest(metrics) : ProtobufMetricsSerializer.serializeRequest(metrics), "metrics", resultCallback);
  }

  // Prometheus counts are cumulative since the registry started; so is what we push.
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }

  forceFlush(): Promise<void> {
    return this.#transport.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#transport.shutdown();
  }
}
