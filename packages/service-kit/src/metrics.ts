import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Label values of a metric, by label name. */
export type MetricLabels<Label extends string> = Partial<Record<Label, string | number>>;

/** A monotonically increasing count. */
export interface CounterMetric<Label extends string = string> {
  inc(labels?: MetricLabels<Label>, value?: number): void;
  /** The series of one label set, resolved once (for hot paths that record the same series often). */
  bind(labels: MetricLabels<Label>): { inc(value?: number): void };
}

/** A distribution of observed values (durations in seconds, sizes in bytes). */
export interface HistogramMetric<Label extends string = string> {
  observe(labels: MetricLabels<Label>, value: number): void;
  /** The series of one label set, resolved once (for hot paths that record the same series often). */
  bind(labels: MetricLabels<Label>): { observe(value: number): void };
}

/** A value that goes up and down (queue depth, in-flight work). */
export interface GaugeMetric<Label extends string = string> {
  set(labels: MetricLabels<Label>, value: number): void;
  inc(labels?: MetricLabels<Label>, value?: number): void;
  dec(labels?: MetricLabels<Label>, value?: number): void;
}

/** What defines a metric. Names follow Prometheus conventions (`_seconds`, `_bytes`, `_total`). */
export interface MetricDefinition<Label extends string> {
  name: string;
  help: string;
  /** Default none. */
  labelNames?: readonly Label[];
}

/** Options for {@link MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Also collect Node's process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ service: "scoring" }`). Default none. */
  defaultLabels?: Record<string, string>;
}

/**
 * A Prometheus registry behind our own small interface, so services record metrics without
 * importing prom-client. Asking twice for a metric of the same name returns the same metric.
 */
export class MetricsRegistry {
  readonly #registry = new Registry();
  readonly #metrics = new Map<string, { kind: string; metric: unknown }>();

  constructor(options: MetricsRegistryOptions = {}) {
    if (options.defaultLabels !== undefined) this.#registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.#registry });
  }

  /** The Content-Type of {@link MetricsRegistry.metrics}' text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  metrics(): Promise<string> {
    return this.#registry.metrics();
  }

  /** A counter, created on first use. */
  counter<Label extends string>(definition: MetricDefinition<Label>): CounterMetric<Label> {
    return this.#once("counter", definition.name, () => {
      const counter = new Counter({ ...this.#base(definition) });
      return {
        inc: (labels = {}, value = 1) => counter.inc(labels, value),
        bind: (labels) => {
          const child = counter.labels(labels);
          return { inc: (value = 1) => child.inc(value) };
        },
      };
    });
  }

  /** A histogram, created on first use; `buckets` default to prom-client's (0.005 s … 10 s). */
  histogram<Label extends string>(definition: MetricDefinition<Label> & { buckets?: readonly number[] }): HistogramMetric<Label> {
    return this.#once("histogram", definition.name, () => {
      const histogram = new Histogram({
        ...this.#base(definition),
        ...(definition.buckets !== undefined && { buckets: [...definition.buckets] }),
      });
      return {
        observe: (labels, value) => histogram.observe(labels, value),
        bind: (labels) => {
          const child = histogram.labels(labels);
          return { observe: (value: number) => child.observe(value) };
        },
      };
    });
  }

  /** A gauge, created on first use. */
  gauge<Label extends string>(definition: MetricDefinition<Label>): GaugeMetric<Label> {
    return this.#once("gauge", definition.name, () => {
      const gauge = new Gauge({ ...this.#base(definition) });
      return {
        set: (labels, value) => gauge.set(labels, value),
        inc: (labels = {}, value = 1) => gauge.inc(labels, value),
        dec: (labels = {}, value = 1) => gauge.dec(labels, value),
      };
    });
  }

  #base<Label extends string>(definition: MetricDefinition<Label>) {
    return {
      name: definition.name,
      help: definition.help,
      labelNames: [...(definition.labelNames ?? [])],
      registers: [this.#registry],
    };
  }

  #once<T>(kind: string, name: string, create: () => T): T {
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) throw new Error(`metric ${name} is already registered as a ${existing.kind}`);
      return existing.metric as T;
    }
    const metric = create();
    this.#metrics.set(name, { kind, metric });
    return metric;
  }
}

/** Labels of the HTTP server metrics. */
export type HttpMetricLabel = "method" | "route" | "status";

// The OTel HTTP semantic conventions' recommended duration buckets, in seconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/** A request method as a bounded label value: unknown methods become `_OTHER` (as OTel does). */
export function normalizeMethod(method: string | undefined): string {
  const upper = (method ?? "").toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : "_OTHER";
}

/**
 * The HTTP server metrics, shared by the express app and the node:http hot path:
 * `http_server_request_duration_seconds` (histogram) and `http_server_requests_total` (counter),
 * both labelled `{method, route, status}`. `route` must be a route template, never a raw path.
 */
export class HttpMetrics {
  readonly #duration: HistogramMetric<HttpMetricLabel>;
  readonly #requests: CounterMetric<HttpMetricLabel>;

  constructor(registry: MetricsRegistry) {
    this.#duration = registry.histogram({
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests, in seconds.",
      labelNames: ["method", "route", "status"],
      buckets: DURATION_BUCKETS,
    });
    this.#requests = registry.counter({
      name: "http_server_requests_total",
      help: "HTTP server requests answered.",
      labelNames: ["method", "route", "status"],
    });
  }

  // Resolving a label set hashes it; a service answers few distinct (method, route, status), so
  // each is resolved once and kept.
  readonly #series = new Map<string, { duration: { observe(value: number): void }; requests: { inc(value?: number): void } }>();

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels = { method: normalizeMethod(method), route, status: String(status) };
      series = { duration: this.#duration.bind(labels), requests: this.#requests.bind(labels) };
      if (this.#series.size < 10_000) this.#series.set(key, series);
    }
    series.duration.observe(seconds);
    series.requests.inc();
  }
}
