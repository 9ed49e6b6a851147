import { isBlobError, readJson, type BlobStore } from "@retrain/blob";
import type { CounterMetric, HistogramMetric, MetricsRegistry } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import { deliveryBlob, parseDelivery, parsePendingBlob, PENDING_PREFIX, type DeliveryDocument } from "./documents.js";
import { attemptDelivery, type AttemptDeps } from "./handlers/attempt.js";

/** Options for {@link Dispatcher}. */
export interface DispatcherOptions extends AttemptDeps {
  /** How often the pending markers are scanned (deliveries of a crashed process, leases run out). */
  readonly scanIntervalMs: number;
  /** Calls in flight at once. */
  readonly maxInFlight: number;
  /** Where attempt outcomes and latencies are recorded. Default: not recorded. */
  readonly metrics?: MetricsRegistry;
}

/** `retrain_webhook_attempts_total{outcome}` and `retrain_webhook_attempt_duration_seconds{outcome}`. */
interface AttemptMetrics {
  readonly attempts: CounterMetric<"outcome">;
  readonly latency: HistogramMetric<"outcome">;
}

function attemptMetrics(registry: MetricsRegistry): AttemptMetrics {
  return {
    attempts: registry.counter({
      name: "retrain_webhook_attempts_total",
      help: "Webhook delivery attempts by outcome: delivered, retry (failed, another attempt is due), dead (failed, the last), cancelled.",
      labelNames: ["outcome"],
    }),
    latency: registry.histogram({
      name: "retrain_webhook_attempt_duration_seconds",
      help: "Time from the webhook call to the receiver's answer (or the failure), by outcome.",
      labelNames: ["outcome"],
    }),
  };
}

// How old a pending marker without its delivery must be before the scan removes it.
const STALE_MARKER_MS = 5 * 60_000;

const key = (subscriptionId: string, deliveryId: string): string => `${subscriptionId}/${deliveryId}`;

/**
 * Runs deliveries: at once when an event creates them, at their due time after a failure (a timer),
 * and from the durable pending markers at start and every `scanIntervalMs` — which is how a restarted
 * notifier resumes what a killed one left, and how one replica takes over another's expired claim.
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #metrics: AttemptMetrics | undefined;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #queue: Array<{ subscriptionId: string; deliveryId: string }> = [];
  readonly #queued = new Set<string>();
  readonly #abort = new AbortController();
  #scanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#metrics = options.metrics === undefined ? undefined : attemptMetrics(options.metrics);
  }

  get #store(): BlobStore {
    return this.#options.store;
  }

  get #logger(): Logger {
    return this.#options.logger;
  }

  /** Scans once now, then every `scanIntervalMs`. */
  async start(): Promise<void> {
    await this.scan();
    const tick = () => {
      this.#scanTimer = setTimeout(() => {
        void this.scan().finally(() => {
          if (!this.#stopped) tick();
        });
      }, this.#options.scanIntervalMs);
      this.#scanTimer.unref();
    };
    tick();
  }

  /** Attempts a delivery as soon as a slot is free (no-op when it is already queued or running here). */
  kick(subscriptionId: string, deliveryId: string): void {
    if (this.#stopped) return;
    const k = key(subscriptionId, deliveryId);
    if (this.#running.has(k) || this.#queued.has(k)) return;
    this.#queued.add(k);
    this.#queue.push({ subscriptionId, deliveryId });
    this.#drain();
  }

  #drain(): void {
    while (!this.#stopped && this.#running.size < this.#options.maxInFlight) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      const k = key(next.subscriptionId, next.deliveryId);
      this.#queued.delete(k);
      const run = this.#attempt(next.subscriptionId, next.deliveryId).finally(() => {
        this.#running.delete(k);
        this.#drain();
      });
      this.#running.set(k, run);
    }
  }

  async #attempt(subscriptionId: string, deliveryId: string): Promise<void> {
    try {
      const result = await attemptDelivery(subscriptionId, deliveryId, this.#options, this.#abort.signal);
      if (result.kind === "attempted" && this.#metrics !== undefined) {
        const state = result.delivery.state;
        const outcome = state === "pending" ? "retry" : state;
        this.#metrics.attempts.inc({ outcome });
        if (result.attempt?.latencyMs !== undefined) this.#metrics.latency.observe({ outcome }, result.attempt.latencyMs / 1000);
      }
      if (result.delivery !== undefined) this.#schedule(result.delivery);
    } catch (error) {
      // The store failed; the marker stays and the next scan tries again.
      this.#logger.error({ err: error, subscriptionId, deliveryId }, "webhook delivery attempt could not be run");
    }
  }

  /** Sets a timer for a pending delivery's next due moment (its retry time, or when a claim runs out). */
  #schedule(delivery: DeliveryDocument): void {
    if (delivery.state !== "pending" || this.#stopped) return;
    const due = Math.max(Date.parse(delivery.nextAttemptAt), delivery.lease !== undefined ? Date.parse(delivery.lease.until) : 0);
    const k = key(delivery.subscriptionId, delivery.id);
    clearTimeout(this.#timers.get(k));
    const timer = setTimeout(() => {
      this.#timers.delete(k);
      this.kick(delivery.subscriptionId, delivery.id);
    }, Math.max(0, due - Date.now()));
    timer.unref();
    this.#timers.set(k, timer);
  }

  /** Reads every pending marker: due deliveries are attempted, later ones get a timer, stale markers are removed. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scanOnce().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    try {
      for await (const marker of this.#store.list(PENDING_PREFIX)) {
        if (this.#stopped) return;
        const parsed = parsePendingBlob(marker.name);
        if (parsed === undefined) continue;
        const doc = await readJson(this.#store, deliveryBlob(parsed.subscriptionId, parsed.deliveryId), parseDelivery);
        // A marker is written just before its delivery: one without a delivery is only stale once it is old.
        if (doc === undefined && Date.now() - marker.lastModified.getTime() < STALE_MARKER_MS) continue;
        if (doc === undefined || doc.value.state !== "pending") {
          await this.#store.delete(marker.name, { ifMatch: marker.etag }).catch((error: unknown) => {
            if (!isBlobError(error, "Conflict")) throw error;
          });
          continue;
        }
        const due = Math.max(Date.parse(doc.value.nextAttemptAt), doc.value.lease !== undefined ? Date.parse(doc.value.lease.until) : 0);
        if (due <= Date.now()) this.kick(parsed.subscriptionId, parsed.deliveryId);
        else this.#schedule(doc.value);
      }
    } catch (error) {
      this.#logger.error({ err: error }, "scanning pending webhook deliveries failed");
    }
  }

  /** Stops taking work, waits up to `graceMs` for calls in flight, then aborts them (they are retried later). */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#scanTimer);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#queued.clear();
    const inFlight = Promise.allSettled([...this.#running.values(), ...(this.#scanning ? [this.#scanning] : [])]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([inFlight, grace]);
    clearTimeout(timer);
    this.#abort.abort();
    await inFlight;
  }
}
