import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { registerMetricSource } from "@retrain/telemetry";
import type { CollectedMetric, HistogramPoint, MetricSource } from "@retrain/telemetry";

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

/** A counter series bound once: `inc` adds to a number, with no label hashing and no allocation. */
export interface BoundCounter {
  inc(value?: number): void;
}

/** A histogram series bound once: `observe` is a bucket scan and a few additions, nothing allocated. */
export interface BoundHistogram {
  observe(value: number): void;
}

/** A family of pre-bound series for hot paths; a series can be removed (e.g. when a model is replaced). */
export interface SeriesFamily<Label extends string, Series> {
  /** The series of one label set: the same object for the same labels until it is removed. */
  bind(labels: MetricLabels<Label>): Series;
  /** Drops a series from the exposition (its counts are gone). */
  remove(labels: MetricLabels<Label>): void;
}

/** One value of a {@link MetricsRegistry.collectedGauge}, read when metrics are scraped. */
export interface CollectedValue<Label extends string> {
  readonly labels: MetricLabels<Label>;
  readonly value: number;
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
 * Every registry is also a metric source of @retrain/telemetry: when OTEL_* variables ask for
 * metrics over OTLP, setupTelemetry pushes what {@link MetricsRegistry.collectMetrics} reads, so
 * each service exports without code of its own and the hot path records exactly as before.
 */
export class MetricsRegistry implements MetricSource {
  readonly #registry = new Registry();
  readonly #metrics = new Map<string, { kind: string; metric: unknown }>();
  // Bound-series families, rendered by us after prom-client's own text (see fastCounter).
  readonly #fast: FastFamily[] = [];
  readonly #defaultLabels: string;
  readonly #defaultLabelValues: Readonly<Record<string, string>>;
  /** The OTLP instrumentation scope of these metrics. */
  readonly scope = "@retrain/service-kit";
  /** When this registry's counts started (the cumulative metrics' start time over OTLP). */
  readonly startTimeMs = Date.now();

  constructor(options: MetricsRegistryOptions = {}) {
    if (options.defaultLabels !== undefined) this.#registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.#registry });
    this.#defaultLabelValues = { ...options.defaultLabels };
    this.#defaultLabels = Object.entries(options.defaultLabels ?? {})
      .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
      .join(",");
    registerMetricSource(this);
  }

  /**
   * Every metric's current values as plain data (what is pushed over OTLP): prom-client's metrics
   * (summaries are skipped: OTLP's summary is legacy and none of ours is one) and the fast series,
   * with the same names and labels as the Prometheus text.
   */
  async collectMetrics(): Promise<readonly CollectedMetric[]> {
    const collected = (await this.#registry.getMetricsAsJSON()).flatMap((metric) => fromPromClient(metric));
    for (const family of this.#fast) collected.push(family.collect(this.#defaultLabelValues));
    return collected;
  }

  /** The Content-Type of {@link MetricsRegistry.metrics}' text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  async metrics(): Promise<string> {
    const text = await this.#registry.metrics();
    if (this.#fast.length === 0) return text;
    return text + this.#fast.map((family) => family.render(this.#defaultLabels)).join("");
  }

  /**
   * A counter of pre-bound series for hot paths: prom-client hashes the labels and allocates on every
   * call even through a bound child, these series only add to a number. Rendered at scrape time.
   */
  fastCounter<Label extends string>(definition: MetricDefinition<Label>): SeriesFamily<Label, BoundCounter> {
    return this.#once("fast-counter", definition.name, () => {
      const family = new FastFamily(definition.name, definition.help, "counter", [...(definition.labelNames ?? [])], []);
      this.#fast.push(family);
      return { bind: (labels) => family.bind(labels), remove: (labels) => family.remove(labels) };
    });
  }

  /** A histogram of pre-bound series for hot paths (see {@link fastCounter}); `buckets` default to the HTTP ones. */
  fastHistogram<Label extends string>(definition: MetricDefinition<Label> & { buckets?: readonly number[] }): SeriesFamily<Label, BoundHistogram> {
    return this.#once("fast-histogram", definition.name, () => {
      const buckets = [...(definition.buckets ?? DURATION_BUCKETS)].sort((a, b) => a - b);
      const family = new FastFamily(definition.name, definition.help, "histogram", [...(definition.labelNames ?? [])], buckets);
      this.#fast.push(family);
      return { bind: (labels) => family.bind(labels), remove: (labels) => family.remove(labels) };
    });
  }

  /**
   * A gauge whose values are read by `collect` when metrics are scraped (queue depth, consumer lag):
   * nothing runs between scrapes. A failing `collect` leaves the gauge empty for that scrape.
   */
  collectedGauge<Label extends string>(definition: MetricDefinition<Label>, collect: () => Promise<ReadonlyArray<CollectedValue<Label>>>): void {
    this.#once("collected-gauge", definition.name, () => {
      return new Gauge({
        ...this.#base(definition),
        async collect() {
          this.reset();
          let values: ReadonlyArray<CollectedValue<Label>>;
          try {
            values = await collect();
          } catch {
            return;
          }
          for (const { labels, value } of values) this.set(labels, value);
        },
      });
    });
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
/** The two series one (method, route, status) records into. */
interface HttpSeries {
  readonly duration: { observe(value: number): void };
  readonly requests: { inc(value?: number): void };
}

export class HttpMetrics {
  readonly #duration: SeriesFamily<HttpMetricLabel, BoundHistogram>;
  readonly #requests: SeriesFamily<HttpMetricLabel, BoundCounter>;

  constructor(
    /** Where these metrics are registered (a hot path records its own metrics beside them). */
    readonly registry: MetricsRegistry,
  ) {
    // Bound series: every request of the hot path records here.
    this.#duration = registry.fastHistogram({
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests, in seconds.",
      labelNames: ["method", "route", "status"],
      buckets: DURATION_BUCKETS,
    });
    this.#requests = registry.fastCounter({
      name: "http_server_requests_total",
      help: "HTTP server requests answered.",
      labelNames: ["method", "route", "status"],
    });
  }

  // Resolving a label set hashes it; a service answers few distinct (method, route, status), so
  // each is resolved once and kept — by route, then method, then status, so that a request builds
  // no key string (routes and methods are the same string objects each time: their hashes are cached).
  readonly #series = new Map<string, Map<string, Map<number, HttpSeries>>>();
  #seriesCount = 0;

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.#series.get(route);
    if (byMethod === undefined) this.#series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      const labels = { method: normalizeMethod(method), route, status: String(status) };
      series = { duration: this.#duration.bind(labels), requests: this.#requests.bind(labels) };
      // Past this many, a label set is resolved on each request rather than remembered (bounded memory).
      if (this.#seriesCount < 10_000) {
        byStatus.set(status, series);
        this.#seriesCount++;
      }
    }
    series.duration.observe(seconds);
    series.requests.inc();
  }
}

type FastSeries = BoundCounter &
  BoundHistogram & { readonly labels: string; readonly attributes: Readonly<Record<string, string>>; value: number; sum: number; counts: Float64Array };

/** A family of bound series rendered in the text format by hand (package-internal). */
class FastFamily {
  readonly #series = new Map<string, FastSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  #key(labels: Readonly<Record<string, string | number | undefined>>): string {
    return this.labelNames.map((name) => `${name}="${escapeLabel(String(labels[name] ?? ""))}"`).join(",");
  }

  bind(labels: Readonly<Record<string, string | number | undefined>>): FastSeries {
    const key = this.#key(labels);
    const existing = this.#series.get(key);
    if (existing !== undefined) return existing;
    const bounds = this.buckets;
    const series: FastSeries = {
      labels: key,
      attributes: Object.fromEntries(this.labelNames.map((name) => [name, String(labels[name] ?? "")])),
      value: 0,
      sum: 0,
      counts: new Float64Array(bounds.length),
      inc(value = 1) {
        series.value += value;
      },
      observe(value: number) {
        series.value += 1;
        series.sum += value;
        // Per-bucket (not cumulative) counts; the render accumulates. Above the last bound only +Inf counts.
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            series.counts[i] = (series.counts[i] ?? 0) + 1;
            break;
          }
        }
      },
    };
    this.#series.set(key, series);
    return series;
  }

  remove(labels: Readonly<Record<string, string | number | undefined>>): void {
    this.#series.delete(this.#key(labels));
  }

  /** The current values as plain data: the label values are kept per series for this, beside the text key. */
  collect(defaultLabels: Readonly<Record<string, string>>): CollectedMetric {
    const description = this.help;
    if (this.type === "counter") {
      const points = [...this.#series.values()].map((series) => ({ attributes: { ...defaultLabels, ...series.attributes }, value: series.value }));
      return { kind: "counter", name: this.name, description, points };
    }
    const points = [...this.#series.values()].map((series): HistogramPoint => {
      const finite = Array.from(series.counts);
      const inFinite = finite.reduce((sum, count) => sum + count, 0);
      return { attributes: { ...defaultLabels, ...series.attributes }, count: series.value, sum: series.sum, bucketCounts: [...finite, series.value - inFinite] };
    });
    return { kind: "histogram", name: this.name, description, bounds: this.buckets, points };
  }

  render(defaultLabels: string): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${this.name} ${this.type}`];
    const join = (...parts: string[]) => parts.filter((p) => p !== "").join(",");
    for (const series of this.#series.values()) {
      const labels = join(series.labels, defaultLabels);
      const braces = labels === "" ? "" : `{${labels}}`;
      if (this.type === "counter") {
        lines.push(`${this.name}${braces} ${series.value}`);
        continue;
      }
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i] ?? 0;
        lines.push(`${this.name}_bucket{${join(series.labels, defaultLabels, `le="${bound}"`)}} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket{${join(series.labels, defaultLabels, 'le="+Inf"')}} ${series.value}`);
      lines.push(`${this.name}_sum${braces} ${series.sum}`);
      lines.push(`${this.name}_count${braces} ${series.value}`);
    }
    return `${lines.join("\n")}\n\n`;
  }
}

/** One prom-client metric as plain data; summaries give nothing. */
function fromPromClient(metric: MetricObjectWithValues<MetricValue<string>>): CollectedMetric[] {
  const type = String(metric.type);
  const attributes = (labels: Readonly<Record<string, string | number | undefined>>, except?: string) => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(labels)) if (name !== except && value !== undefined) out[name] = String(value);
    return out;
  };
  if (type === "counter" || type === "gauge") {
    const points = metric.values.map((value) => ({ attributes: attributes(value.labels), value: value.value }));
    return [{ kind: type, name: metric.name, description: metric.help, points }];
  }
  if (type !== "histogram") return [];
  // prom-client lists `_bucket` (cumulative, `le` label), `_sum` and `_count` samples per series.
  const series = new Map<string, { attributes: Record<string, string>; buckets: Array<[number, number]>; sum: number; count: number }>();
  for (const value of metric.values as ReadonlyArray<MetricValue<string> & { metricName?: string }>) {
    const own = attributes(value.labels, "le");
    const key = JSON.stringify(Object.entries(own).sort(([a], [b]) => (a < b ? -1 : 1)));
    let entry = series.get(key);
    if (entry === undefined) series.set(key, (entry = { attributes: own, buckets: [], sum: 0, count: 0 }));
    if (value.metricName === `${metric.name}_sum`) entry.sum = value.value;
    else if (value.metricName === `${metric.name}_count`) entry.count = value.value;
    else if (value.metricName === `${metric.name}_bucket` && value.labels["le"] !== "+Inf") entry.buckets.push([Number(value.labels["le"]), value.value]);
  }
  const all = [...series.values()];
  const bounds = (all[0]?.buckets ?? []).map(([bound]) => bound).sort((a, b) => a - b);
  const points = all.map((entry): HistogramPoint => {
    const cumulative = [...entry.buckets].sort(([a], [b]) => a - b).map(([, count]) => count);
    // OTLP counts each bucket on its own; the last one is everything above the largest bound.
    const bucketCounts = [...cumulative, entry.count].map((count, i) => count - (i === 0 ? 0 : (cumulative[i - 1] ?? 0)));
    return { attributes: entry.attributes, count: entry.count, sum: entry.sum, bucketCounts };
  });
  return [{ kind: "histogram", name: metric.name, description: metric.help, bounds, points }];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** What {@link registerBusMetrics} asks of the bus (the EventBus port's optional `stats`). */
export interface BusStatsSource {
  stats?(): Promise<{
    readonly consumers: ReadonlyArray<{ readonly group: string; readonly destination: string; readonly pending: number; readonly unacknowledged: number }>;
    readonly deadLetters: number;
  }>;
}

/**
 * Broker gauges read at scrape time: `retrain_bus_consumer_pending_messages{group, destination}` (lag),
 * `retrain_bus_consumer_unacknowledged_messages{group, destination}` and `retrain_bus_dead_letters`.
 * One question to the broker per scrape serves all three. A bus without `stats` registers nothing.
 */
export function registerBusMetrics(registry: MetricsRegistry, bus: BusStatsSource): void {
  const stats = bus.stats?.bind(bus);
  if (stats === undefined) return;
  let asked: { at: number; answer: ReturnType<typeof stats> } | undefined;
  // The three gauges are collected within one scrape: they share one answer for a second.
  const current = (): ReturnType<typeof stats> => {
    const now = Date.now();
    if (asked === undefined || now - asked.at > 1000) asked = { at: now, answer: stats() };
    return asked.answer;
  };
  registry.collectedGauge(
    { name: "retrain_bus_consumer_pending_messages", help: "Messages the broker holds for a consumer group and not yet delivered (its lag).", labelNames: ["group", "destination"] },
    async () => (await current()).consumers.map((c) => ({ labels: { group: c.group, destination: c.destination }, value: c.pending })),
  );
  registry.collectedGauge(
    { name: "retrain_bus_consumer_unacknowledged_messages", help: "Messages delivered to a consumer group and not yet settled.", labelNames: ["group", "destination"] },
    async () => (await current()).consumers.map((c) => ({ labels: { group: c.group, destination: c.destination }, value: c.unacknowledged })),
  );
  registry.collectedGauge({ name: "retrain_bus_dead_letters", help: "Dead letters held by the broker (all groups)." }, async () => [{ labels: {}, value: (await current()).deadLetters }]);
}
