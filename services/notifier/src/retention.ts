import { isBlobError, readJson, type BlobStore } from "@retrain/blob";
import type { Logger } from "@retrain/telemetry";
import { DELIVERIES_PREFIX, parseDelivery, RUNS_PREFIX } from "./documents.js";

/** Options for {@link DeliveryRetention}. */
export interface DeliveryRetentionOptions {
  readonly store: BlobStore;
  readonly logger: Logger;
  /** How long a finished delivery (and a run's workspace record) is kept after its last change. */
  readonly retentionMs: number;
  /** How often the store is swept. */
  readonly sweepIntervalMs: number;
  readonly now?: () => Date;
}

/** What one sweep removed. */
export interface SweepResult {
  readonly deliveries: number;
  readonly runs: number;
}

/**
 * Keeps the delivery log bounded: finished deliveries (delivered, dead, cancelled) whose document has
 * not changed for `retentionMs` are deleted, and so are run workspace records as old. Pending
 * deliveries are never touched, however old. Only blobs the listing shows as old are read, and each
 * delete names the etag that was read, so a delivery replayed meanwhile (written again, pending) stays.
 * Replicas may sweep at the same time: a lost race is a conflict or a missing blob, both ignored.
 * A bus event redelivered after its delivery was swept would be delivered again; the broker's
 * redelivery window is minutes, the default retention 30 days.
 */
export class DeliveryRetention {
  readonly #options: DeliveryRetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<SweepResult> | undefined;
  #stopped = false;

  constructor(options: DeliveryRetentionOptions) {
    this.#options = options;
  }

  /** Sweeps every `sweepIntervalMs` (the first one an interval after start: startup has enough to do). */
  start(): void {
    const tick = (): void => {
      this.#timer = setTimeout(() => {
        void this.sweep().finally(() => {
          if (!this.#stopped) tick();
        });
      }, this.#options.sweepIntervalMs);
      this.#timer.unref();
    };
    tick();
  }

  /** One sweep (a sweep already running is joined, not doubled). Failures are logged; the next sweep retries. */
  sweep(): Promise<SweepResult> {
    this.#sweeping ??= this.#sweepOnce().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<SweepResult> {
    const { store, logger } = this.#options;
    const cutoff = (this.#options.now?.() ?? new Date()).getTime() - this.#options.retentionMs;
    let deliveries = 0;
    let runs = 0;
    try {
      for await (const blob of store.list(DELIVERIES_PREFIX)) {
        if (this.#stopped) break;
        if (blob.lastModified.getTime() > cutoff) continue;
        const doc = await readJson(store, blob.name, parseDelivery).catch((error: unknown) => {
          // A document this version cannot read is left for a person to look at, not deleted; a store
          // failure ends the sweep (the next one retries).
          if (isBlobError(error)) throw error;
          logger.warn({ err: error, blob: blob.name }, "unreadable webhook delivery kept by the retention sweep");
          return undefined;
        });
        if (doc === undefined || doc.value.state === "pending") continue;
        if (await this.#delete(blob.name, doc.etag)) deliveries++;
      }
      for await (const blob of store.list(RUNS_PREFIX)) {
        if (this.#stopped) break;
        if (blob.lastModified.getTime() <= cutoff && (await this.#delete(blob.name, blob.etag))) runs++;
      }
    } catch (error) {
      logger.error({ err: error }, "sweeping old webhook deliveries failed");
    }
    if (deliveries + runs > 0) logger.info({ deliveries, runs, retention_ms: this.#options.retentionMs }, "old webhook deliveries removed");
    return { deliveries, runs };
  }

  async #delete(name: string, etag: string): Promise<boolean> {
    try {
      return await this.#options.store.delete(name, { ifMatch: etag });
    } catch (error) {
      if (isBlobError(error, "Conflict")) return false;
      throw error;
    }
  }

  /** Stops sweeping; waits for a sweep in progress to see the stop. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#sweeping;
  }
}
