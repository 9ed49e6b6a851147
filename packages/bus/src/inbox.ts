/**
 * Consumer-side dedupe by event id. The runner asks `seen` before calling a handler and, when the
 * inbox can record on its own, calls `record` after the handler succeeded. A service that keeps its
 * inbox inside its own state document implements `seen` over that document and omits `record`:
 * its handler records the id in the same compare-and-set write as the effect, so a crash between
 * the effect and the ack can never apply the effect twice.
 */
export interface Inbox {
  seen(group: string, eventId: string): Promise<boolean>;
  record?(group: string, eventId: string): Promise<void>;
}

/** Options for {@link MemoryInbox}. */
export interface MemoryInboxOptions {
  /** Ids kept per group before the oldest are forgotten. Default 100 000. */
  capacity?: number;
}

/**
 * A bounded in-process inbox: dedupes redeliveries within one process's lifetime. Enough for
 * handlers whose effects are idempotent anyway; not enough across a crash (use a document inbox).
 */
export class MemoryInbox implements Inbox {
  readonly #capacity: number;
  readonly #groups = new Map<string, Set<string>>();

  constructor(options: MemoryInboxOptions = {}) {
    this.#capacity = options.capacity ?? 100_000;
  }

  async seen(group: string, eventId: string): Promise<boolean> {
    return this.#groups.get(group)?.has(eventId) ?? false;
  }

  async record(group: string, eventId: string): Promise<void> {
    let ids = this.#groups.get(group);
    if (ids === undefined) {
      ids = new Set();
      this.#groups.set(group, ids);
    }
    ids.add(eventId);
    if (ids.size > this.#capacity) {
      // Sets iterate in insertion order: the first is the oldest.
      const oldest = ids.values().next();
      if (oldest.done !== true) ids.delete(oldest.value);
    }
  }
}

/** Returns a copy of a document's inbox list with `eventId` added, keeping at most `capacity` of the newest. */
export function inboxAdd(ids: readonly string[], eventId: string, capacity = 1000): string[] {
  if (ids.includes(eventId)) return [...ids];
  const next = [...ids, eventId];
  return next.length > capacity ? next.slice(next.length - capacity) : next;
}
