import { createHash } from "node:crypto";
import { isBlobError, type BlobStore } from "@retrain/blob";
import type { AnyEvent } from "@retrain/contracts";

/** Prefix of the registry's append-only event log: one blob per event. */
export const LOG_PREFIX = "registry/log/";

/** One entry of the log: the event as received and when the registry first stored it. */
export interface LogEntry {
  readonly event: AnyEvent;
  readonly receivedAt: string;
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/**
 * The log blob of an event: `registry/log/<YYYY-MM-DD>/<event time, digits only>-<hash of the id>.json`.
 * A function of the event alone, so a redelivery lands on the same name; names sort by event time.
 */
export function logBlobName(event: Pick<AnyEvent, "id" | "time">): string {
  const iso = new Date(event.time).toISOString(); // normalizes any offset to UTC
  const day = iso.slice(0, 10);
  const compact = iso.replace(/[-:.]/g, "");
  return `${LOG_PREFIX}${day}/${compact}-${shortHash(event.id)}.json`;
}

/** Appends an event (ifNoneMatch "*"); `false` when it was already in the log (a redelivery). */
export async function appendToLog(store: BlobStore, event: AnyEvent, now: Date = new Date()): Promise<boolean> {
  const entry: LogEntry = { event, receivedAt: now.toISOString() };
  try {
    await store.put(logBlobName(event), JSON.stringify(entry), { ifNoneMatch: "*", contentType: "application/json" });
    return true;
  } catch (error) {
    if (isBlobError(error, "Conflict")) return false;
    throw error;
  }
}

/** Every logged event, in log (event time) order. */
export async function* readLog(store: BlobStore): AsyncIterable<LogEntry> {
  for await (const props of store.list(LOG_PREFIX)) {
    if (!props.name.endsWith(".json")) continue;
    const { body } = await store.getBuffer(props.name);
    yield JSON.parse(body.toString("utf8")) as LogEntry;
  }
}
