import { createHash } from "node:crypto";
import { isBlobError, readJson, updateJson, type BlobStore } from "@retrain/blob";
import type { EventBus } from "@retrain/bus";
import { inboxAdd } from "@retrain/bus";
import { parseEvent, targetKey, type AnyEvent, type EndpointTarget } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { PromotionRecord } from "./record.js";

/** The identity of a promotion: which run, pipeline position, model and target. */
export interface PromotionKey {
  readonly runId: string;
  readonly pipeline: string;
  readonly runSequence: number;
  readonly modelId: string;
  readonly kind: "promotion" | "rollback";
  readonly target: EndpointTarget;
}

/** What {@link PromotionStore.begin} found. */
export interface BeginResult {
  readonly record: PromotionRecord;
  /** True when the step has to run (new, or pending after a crash or a transient failure). */
  readonly proceed: boolean;
}

/** The hash of a target key used in blob names (target keys hold `/` and `:`). */
export function targetKeyHash(target: EndpointTarget): string {
  return createHash("sha256").update(targetKey(target)).digest("hex").slice(0, 32);
}

function isEventLike(value: unknown): value is { id: string } {
  return typeof value === "object" && value !== null && "id" in value && typeof value.id === "string";
}

/**
 * Promotion records of one promoter under its own prefix: `<prefix>/promotions/<runId>/<targetKeyHash>.json`.
 * Every change is a compare-and-set; the events a decision causes are written in the same write
 * (outbox) and relayed after, so a crash anywhere re-publishes the same ids and never decides twice.
 */
export class PromotionStore {
  constructor(
    private readonly store: BlobStore,
    private readonly prefix: string,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** The record's blob name. */
  name(runId: string, target: EndpointTarget): string {
    return `${this.prefix}/promotions/${runId}/${targetKeyHash(target)}.json`;
  }

  /** Where a record's own artifacts live (e.g. `before.json`). */
  artifactName(runId: string, target: EndpointTarget, file: string): string {
    return `${this.prefix}/promotions/${runId}/${targetKeyHash(target)}/${file}`;
  }

  async get(runId: string, target: EndpointTarget): Promise<PromotionRecord | undefined> {
    return (await readJson(this.store, this.name(runId, target), (v) => PromotionRecord.parse(v)))?.value;
  }

  /**
   * Records that approval `eventId` asks for this promotion: creates the record (pending), or adds
   * the id to its inbox. A decided record is left as it is and `proceed` is false.
   */
  async begin(key: PromotionKey, eventId: string, now = new Date()): Promise<BeginResult> {
    const result = await updateJson(this.store, this.name(key.runId, key.target), (v) => PromotionRecord.parse(v), (current) => {
      if (current === undefined) {
        return {
          version: 1 as const,
          runId: key.runId,
          pipeline: key.pipeline,
          runSequence: key.runSequence,
          target: key.target,
          targetKey: targetKey(key.target),
          modelId: key.modelId,
          kind: key.kind,
          state: "pending" as const,
          attempts: 1,
          createdAt: now.toISOString(),
          updatedAt: now.toISOString(),
          artifacts: {},
          inbox: [eventId],
          outbox: [],
        };
      }
      if (current.state !== "pending") return current.inbox.includes(eventId) ? undefined : { ...current, inbox: inboxAdd(current.inbox, eventId) };
      return { ...current, attempts: current.attempts + 1, updatedAt: now.toISOString(), inbox: inboxAdd(current.inbox, eventId) };
    });
    const record = result.value as PromotionRecord;
    return { record, proceed: record.state === "pending" };
  }

  /** Notes an artifact of a pending promotion (idempotent). */
  async addArtifact(runId: string, target: EndpointTarget, name: string, blob: string): Promise<void> {
    await updateJson(this.store, this.name(runId, target), (v) => PromotionRecord.parse(v), (current) =>
      current === undefined || current.artifacts[name] === blob ? undefined : { ...current, artifacts: { ...current.artifacts, [name]: blob } },
    );
  }

  /**
   * Decides a pending promotion: state, answer and the event to publish, in one write. A record that
   * was decided meanwhile keeps its decision. Returns the record as it now stands.
   */
  async decide(
    runId: string,
    target: EndpointTarget,
    decision: Pick<PromotionRecord, "state" | "result" | "failure">,
    event: AnyEvent,
    now = new Date(),
  ): Promise<PromotionRecord> {
    const result = await updateJson(this.store, this.name(runId, target), (v) => PromotionRecord.parse(v), (current) => {
      if (current === undefined || current.state !== "pending") return undefined;
      return {
        ...current,
        state: decision.state,
        ...(decision.result !== undefined ? { result: decision.result } : {}),
        ...(decision.failure !== undefined ? { failure: decision.failure } : {}),
        updatedAt: now.toISOString(),
        outbox: [...current.outbox, event],
      };
    });
    if (result.value === undefined) throw new Error(`promotion record ${this.name(runId, target)} vanished while deciding it`);
    return result.value;
  }

  /**
   * Publishes a record's outbox, then removes what was sent. Safe to repeat: event ids are
   * deterministic, so a publish that happened before a crash is dropped as a duplicate downstream.
   */
  async relay(record: PromotionRecord): Promise<void> {
    if (record.outbox.length === 0) return;
    const events: AnyEvent[] = record.outbox.map((raw) => parseEvent(raw));
    for (const event of events) await this.bus.publish(event);
    const sent = new Set(events.map((e) => e.id));
    await updateJson(this.store, this.name(record.runId, record.target), (v) => PromotionRecord.parse(v), (current) => {
      if (current === undefined) return undefined;
      const rest = current.outbox.filter((e) => !(isEventLike(e) && sent.has(e.id)));
      if (rest.length === current.outbox.length) return undefined;
      const moved = current.outbox.filter((e) => isEventLike(e) && sent.has(e.id));
      return { ...current, outbox: rest, sent: [...(current.sent ?? []).filter((e) => !(isEventLike(e) && sent.has(e.id))), ...moved] };
    });
  }

  /**
   * Re-publishes what the promotions of a run published (EndpointUpdated / PromotionFailed, exactly as
   * first sent) and relays what is unsent, for the reconciler: same event ids, transport ids made
   * fresh from `requestId` so the broker's duplicate window lets them through. Returns how many events.
   */
  async republish(runId: string, requestId: string): Promise<number> {
    let count = 0;
    for await (const blob of this.store.list(`${this.prefix}/promotions/${runId}/`)) {
      const rest = blob.name.slice(`${this.prefix}/promotions/${runId}/`.length);
      if (!rest.endsWith(".json") || rest.includes("/")) continue;
      const record = (await readJson(this.store, blob.name, (v) => PromotionRecord.parse(v)))?.value;
      if (record === undefined) continue;
      for (const raw of record.sent ?? []) {
        const event = parseEvent(raw);
        await this.bus.publish(event, { messageId: `${event.id}/${requestId}` });
        count++;
      }
      count += record.outbox.length;
      await this.relay(record);
    }
    return count;
  }

  #cancelledName(runId: string): string {
    return `${this.prefix}/cancelled/${encodeURIComponent(runId)}.json`;
  }

  /** Records that a run was cancelled: its approvals promote nothing from now on. */
  async markCancelled(runId: string, at: string): Promise<void> {
    try {
      await this.store.put(this.#cancelledName(runId), JSON.stringify({ runId, at }), { ifNoneMatch: "*", contentType: "application/json" });
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error;
    }
  }

  /** Whether a run was cancelled. */
  async isCancelled(runId: string): Promise<boolean> {
    return (await this.store.head(this.#cancelledName(runId))) !== undefined;
  }

  /** Relays every record's pending outbox (at start: what a crash left unsent). Returns how many records. */
  async relayPending(): Promise<number> {
    let relayed = 0;
    for await (const blob of this.store.list(`${this.prefix}/promotions/`)) {
      const rest = blob.name.slice(`${this.prefix}/promotions/`.length);
      // Records are `<runId>/<hash>.json`; artifacts sit one level deeper.
      if (!rest.endsWith(".json") || rest.split("/").length !== 2) continue;
      const record = (await readJson(this.store, blob.name, (v) => PromotionRecord.parse(v)))?.value;
      if (record === undefined || record.outbox.length === 0) continue;
      await this.relay(record);
      relayed++;
    }
    if (relayed > 0) this.logger.info({ records: relayed }, "relayed promotion outboxes left by an earlier process");
    return relayed;
  }
}
