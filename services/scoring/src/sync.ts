import type { Logger } from "@retrain/telemetry";
import type { LiveRegistry } from "./live.js";
import { TARGETS_PREFIX, type ScoringStore } from "./store.js";

/** Options of {@link TargetSync}. */
export interface TargetSyncOptions {
  readonly store: ScoringStore;
  readonly live: LiveRegistry;
  readonly logger: Logger;
  /** Pause between two polls. */
  readonly intervalMs: number;
}

/**
 * Keeps this process's live targets equal to the documents in the store, so replicas converge
 * without a broker: one `list` of the targets prefix per interval returns every document's etag;
 * only documents whose etag changed are read and applied (a model revision change loads and swaps
 * the model), documents that disappeared stop being served. A failed apply leaves the etag
 * unrecorded, so the next poll tries again. Left-over audit outboxes are relayed on the way.
 */
export class TargetSync {
  readonly #options: TargetSyncOptions;
  readonly #known = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #failures = 0;

  constructor(options: TargetSyncOptions) {
    this.#options = options;
  }

  /** Runs a first full sync (so a restarted process serves at once), then polls until {@link stop}. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.syncNow();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /**
   * A sync that starts after this call (joining one that is queued): an RRS request for a GUID not
   * known here awaits it before answering 404, so a target created on a replica is found at once.
   * Calls coalesce: however many arrive, at most one list runs at a time and one more is queued.
   */
  syncNow(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running.then(() => this.#running ?? Promise.resolve());
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Records that this process applied `blob` at `etag` itself (saves re-reading its own write). */
  noteApplied(blob: string, etag: string): void {
    this.#known.set(blob, etag);
  }

  /** Forgets `blob` (deleted here). */
  noteDeleted(blob: string): void {
    this.#known.delete(blob);
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#syncOnce();
    } while (this.#again && !this.#stopped);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.syncNow()
        .catch(() => undefined)
        .finally(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #syncOnce(): Promise<void> {
    const { store, live, logger } = this.#options;
    // Only targets live before the listing began can be missing from it because they were deleted;
    // one created here meanwhile is simply newer than the listing.
    const before = live.blobs();
    let blobs;
    try {
      blobs = await store.listTargetBlobs(TARGETS_PREFIX);
      this.#failures = 0;
    } catch (error) {
      // Logged once per outage, not once per poll.
      if (this.#failures++ === 0) logger.warn({ err: error }, "listing target documents failed; serving what is loaded");
      return;
    }
    const seen = new Set<string>();
    await Promise.all(
      blobs.map(async (blob) => {
        seen.add(blob.name);
        if (this.#known.get(blob.name) === blob.etag) return;
        try {
          const found = await store.getTarget(blob.name);
          if (found === undefined) return;
          await live.apply(blob.name, found.value);
          this.#known.set(blob.name, found.etag);
          if (found.value.outbox.length > 0) await store.relayAudit(blob.name, found.value);
        } catch (error) {
          logger.error({ err: error, blob: blob.name }, "applying a target document failed; it keeps its current model");
        }
      }),
    );
    for (const name of before) {
      if (!seen.has(name)) {
        live.remove(name);
        this.#known.delete(name);
      }
    }
  }
}
