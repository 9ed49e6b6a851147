import { CachedListing, isBlobError, readJson, updateJson, type BlobStore, type UpdateJsonResult } from "@retrain/blob";
import { Metrics, ModelTrained, type ChampionMetrics } from "@retrain/contracts";
import { z } from "zod";

/** Where a run's evaluation stands: decided by the policy, or waiting for (then decided by) a person. */
export const EvaluationState = z.enum(["approved", "rejected", "awaiting-approval"]);
export type EvaluationState = z.infer<typeof EvaluationState>;

/** What the evaluator learned about one target's champion. */
export const ChampionOutcome = z.object({
  target: z.string(),
  /** `served`: scored on the holdout; `none`: the target serves no model yet; `unscorable`: its model does not fit the holdout. */
  status: z.enum(["served", "none", "unscorable"]),
  modelId: z.string().optional(),
  revision: z.number().int().optional(),
  runSequence: z.number().int().nullable().optional(),
  metrics: Metrics.optional(),
  /** Why it is `none` or `unscorable`. */
  note: z.string().optional(),
});
export type ChampionOutcome = z.infer<typeof ChampionOutcome>;

/** A manual approval request and who settled it. */
export const ApprovalRequest = z.object({
  state: z.enum(["pending", "approved", "rejected"]),
  requestedAt: z.string(),
  /** The principal's name (key name) that approved or rejected. */
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  /** The reason the person gave. */
  comment: z.string().optional(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

/** One run's evaluation: `evaluator/evaluations/{runId}.json`. Every change is one compare-and-set. */
export const EvaluationDocument = z.object({
  version: z.literal(1),
  runId: z.string(),
  /** The workspace of the run's training web service: whose keys may read and decide it. */
  workspace: z.string(),
  /** The ModelTrained data judged (plan, challenger model, holdout). */
  trained: ModelTrained,
  state: EvaluationState,
  /** Challenger metrics on the holdout, computed here with the same functions as the champions'. */
  challenger: Metrics,
  champions: z.array(ChampionOutcome),
  /** The latest human-readable reason (the policy's, or the person's decision). */
  reason: z.string(),
  evaluatedAt: z.string(),
  decidedAt: z.string().optional(),
  approval: ApprovalRequest.optional(),
  /** Event ids processed (ModelTrained deliveries). */
  inbox: z.array(z.string()),
  /** Events recorded with a change and not yet published. */
  outbox: z.array(z.unknown()),
  /** The events published, as published: a re-drive re-publishes them unchanged. */
  published: z.array(z.unknown()).optional(),
  /** The run was cancelled (RunCancelled): nothing more is decided or published for it. */
  cancelled: z.object({ at: z.string(), by: z.string().optional() }).optional(),
});
export type EvaluationDocument = z.infer<typeof EvaluationDocument>;

/** The champions' metric sets as events carry them (scored champions only). */
export function championMetrics(champions: readonly ChampionOutcome[]): ChampionMetrics[] {
  return champions.flatMap((c) =>
    c.status === "served" && c.metrics !== undefined ? [{ target: c.target, ...(c.modelId !== undefined ? { modelId: c.modelId } : {}), metrics: c.metrics }] : [],
  );
}

const PREFIX = "evaluator/evaluations/";
const parse = (value: unknown): EvaluationDocument => EvaluationDocument.parse(value);
/** One empty marker per run that may have events to relay: what the start-up relay walks. */
const OUTBOX_PREFIX = "evaluator/outbox/";
/** Present once the outbox markers stand for every evaluation (the evaluators before them kept none). */
const OUTBOX_INDEX_MARKER = "evaluator/outbox-indexed.json";
/**
 * A marker this old, over an empty outbox, is removed. Younger ones are left: their writer may be
 * between writing the marker and adding its event (a few store calls, so minutes are ample).
 */
const OUTBOX_MARKER_SETTLE_MS = 10 * 60_000;

/** The evaluator's documents in the blob store, one per run. */
export class Evaluations {
  constructor(private readonly store: BlobStore) {}

  nameOf(runId: string): string {
    return `${PREFIX}${encodeURIComponent(runId)}.json`;
  }

  async get(runId: string): Promise<EvaluationDocument | undefined> {
    return (await readJson(this.store, this.nameOf(runId), parse))?.value;
  }

  /** Compare-and-set on a run's document; `mutate` returns undefined for "no change" and must be pure. */
  async update(runId: string, mutate: (current: EvaluationDocument | undefined) => EvaluationDocument | undefined): Promise<UpdateJsonResult<EvaluationDocument>> {
    return updateJson(this.store, this.nameOf(runId), parse, mutate);
  }

  /** Every evaluation reduced by `read`, each re-read only when it changed since the last call (for lists asked often). */
  listing<T>(read: (doc: EvaluationDocument) => T): CachedListing<T> {
    return new CachedListing(this.store, PREFIX, (value) => read(parse(value)));
  }

  /**
   * Marks a run as one that may have events to relay. Called before a compare-and-set that adds to the
   * outbox, so a crash after it leaves a marker for {@link Evaluations.withOutbox} to find.
   */
  async markOutbox(runId: string): Promise<void> {
    await this.store.put(`${OUTBOX_PREFIX}${encodeURIComponent(runId)}`, "");
  }

  /**
   * The evaluations that have events to relay, found by their markers (not by reading every evaluation
   * ever made). Markers over an empty outbox are removed once settled. The first call on a store from
   * before the markers reads every evaluation once instead.
   */
  async *withOutbox(now = Date.now()): AsyncIterable<EvaluationDocument> {
    if ((await this.store.head(OUTBOX_INDEX_MARKER)) === undefined) {
      for await (const doc of this.all()) if (doc.outbox.length > 0) yield doc;
      await this.store.put(OUTBOX_INDEX_MARKER, JSON.stringify({ indexedAt: new Date(now).toISOString() }), { contentType: "application/json" });
      return;
    }
    for await (const marker of this.store.list(OUTBOX_PREFIX)) {
      const doc = await this.get(decodeURIComponent(marker.name.slice(OUTBOX_PREFIX.length)));
      if (doc !== undefined && doc.outbox.length > 0) {
        yield doc;
        continue;
      }
      if (now - marker.lastModified.getTime() < OUTBOX_MARKER_SETTLE_MS) continue;
      // The etag listed: a writer that marked the run again since keeps its marker.
      await this.store.delete(marker.name, { ifMatch: marker.etag }).catch((error: unknown) => {
        if (!isBlobError(error, "Conflict")) throw error;
      });
    }
  }

  /** Every evaluation document. */
  async *all(): AsyncIterable<EvaluationDocument> {
    for await (const blob of this.store.list(PREFIX)) {
      if (!blob.name.endsWith(".json")) continue;
      const doc = (await readJson(this.store, blob.name, parse))?.value;
      if (doc !== undefined) yield doc;
    }
  }
}
