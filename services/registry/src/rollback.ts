import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import type { EventBus } from "@retrain/bus";
import { createEvent, EventTypes, parseEvent, targetKey, ulid, type CloudEvent } from "@retrain/contracts";
import { HttpError } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import { z } from "zod";
import type { Projections } from "./projections.js";

/** Prefix of the registry's rollback requests: the ModelApproved it owns, kept to be re-published. */
export const ROLLBACKS_PREFIX = "registry/rollbacks/";

/** Body of `POST /v1/targets/rollback`. */
export const RollbackRequest = z
  .object({
    /** The target key, e.g. `classic:ws/svc/ep` or `new:sub/rg/svc`. */
    target: z.string().min(1).max(512),
    /** The run whose model the target serves again. */
    to: z.string().min(1).max(64),
    reason: z.string().max(2000).optional(),
  })
  .strict();
export type RollbackRequest = z.output<typeof RollbackRequest>;

/** One rollback as the registry recorded it (`registry/rollbacks/<rollbackRunId>.json`). */
export const RollbackDocument = z.object({
  rollbackRunId: z.string(),
  target: z.string(),
  to: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  reason: z.string().optional(),
  /** The ModelApproved (kind `rollback`) as published, byte for byte the same on every re-publish. */
  event: z.unknown(),
  /** Times it was published (the first, then re-drives). */
  published: z.number().int().nonnegative(),
});
export type RollbackDocument = z.infer<typeof RollbackDocument>;

const asDoc = (value: unknown): RollbackDocument => RollbackDocument.parse(value);

/** The answer to a rollback request. */
export interface RollbackAccepted {
  readonly target: string;
  readonly to: string;
  readonly rollbackRunId: string;
  readonly eventId: string;
}

/** What a rollback needs. */
export interface RollbackDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly projections: Projections;
  readonly logger: Logger;
  readonly source: string;
}

export function rollbackBlobName(rollbackRunId: string): string {
  return `${ROLLBACKS_PREFIX}${encodeURIComponent(rollbackRunId)}.json`;
}

/**
 * A rollback: the model run `to` once served on `target` is approved again, as a normal ModelApproved
 * of kind `rollback` for that one target. It is a run of its own (a fresh run id), so its event id
 * differs from the original approval's and nothing dedupes it; it carries the older model's run
 * sequence, and the promoters tell the scoring host it is a rollback, which lets it pass the
 * "never backwards" rule as a new revision without lowering the target's high-water mark.
 * The event is written before it is published (outbox), so the reconciler can re-publish it.
 */
export async function requestRollback(request: RollbackRequest, requestedBy: string, deps: RollbackDeps, now: Date = new Date()): Promise<RollbackAccepted> {
  const targetDoc = await deps.projections.target(request.target);
  if (targetDoc === undefined) throw new HttpError(404, "TargetNotFound", `No promotion history for target '${request.target}'.`);
  const served = targetDoc.history.filter((h) => h.runId === request.to).at(-1);
  if (served === undefined) throw new HttpError(404, "RunNeverServedTarget", `Run '${request.to}' never served target '${request.target}'.`);
  const run = await deps.projections.run(request.to);
  const endpoint = targetDoc.endpoint ?? run?.plan?.targets.find((t) => targetKey(t) === request.target);
  if (run?.modelRef === undefined || run.plan === undefined || endpoint === undefined || run.modelRef.modelId !== served.modelId) {
    throw new HttpError(409, "RollbackUnavailable", `The registry does not know run '${request.to}''s model or plan well enough to promote it again (rebuild the projections from the log).`);
  }
  const rollbackRunId = ulid(now.getTime());
  const runSequence = run.modelRef.runSequence ?? served.runSequence;
  const event = createEvent(
    EventTypes.ModelApproved,
    {
      runId: rollbackRunId,
      pipeline: run.pipeline,
      runSequence,
      plan: { ...run.plan, runSequence, targets: [endpoint] },
      model: run.modelRef,
      challenger: run.evaluation?.challenger ?? {},
      champions: [],
      reason: `Rollback of ${request.target} to the model of run ${request.to} (revision ${served.revision})${request.reason !== undefined && request.reason !== "" ? `: ${request.reason}` : "."}`,
      kind: "rollback",
      approvedBy: requestedBy,
    },
    { source: deps.source, time: now },
  );
  const doc: RollbackDocument = {
    rollbackRunId,
    target: request.target,
    to: request.to,
    requestedBy,
    requestedAt: now.toISOString(),
    ...(request.reason !== undefined ? { reason: request.reason } : {}),
    event: JSON.parse(JSON.stringify(event)) as unknown,
    published: 0,
  };
  await deps.store.put(rollbackBlobName(rollbackRunId), JSON.stringify(doc), { ifNoneMatch: "*", contentType: "application/json" });
  try {
    await publishRollback(rollbackRunId, deps, false);
  } catch (error) {
    // Recorded: the reconciler publishes it later.
    deps.logger.warn({ err: error, run_id: rollbackRunId }, "rollback recorded; its approval is published later");
  }
  deps.logger.info({ run_id: rollbackRunId, target: request.target, to: request.to, by: requestedBy }, "rollback requested");
  return { target: request.target, to: request.to, rollbackRunId, eventId: event.id };
}

/**
 * Publishes (again) the approval of a rollback the registry owns; false when `runId` is not one.
 * A re-publish carries the same event id with a fresh transport id, so the broker's duplicate window
 * does not swallow it and the promoters' records dedupe it.
 */
export async function publishRollback(runId: string, deps: Pick<RollbackDeps, "store" | "bus">, again = true): Promise<boolean> {
  const doc = (await readJson(deps.store, rollbackBlobName(runId), asDoc))?.value;
  if (doc === undefined) return false;
  const event = parseEvent(doc.event) as CloudEvent<typeof EventTypes.ModelApproved>;
  await deps.bus.publish(event, again ? { messageId: `${event.id}/${doc.published + 1}` } : {});
  await updateJson(deps.store, rollbackBlobName(runId), asDoc, (current) => (current === undefined ? undefined : { ...current, published: current.published + 1 }));
  return true;
}

/** Rollbacks the registry recorded whose approval it has not seen come back yet, older than `olderThanMs`. */
export async function* unseenRollbacks(deps: Pick<RollbackDeps, "store" | "projections">, now: Date, olderThanMs: number): AsyncIterable<RollbackDocument> {
  for await (const props of deps.store.list(ROLLBACKS_PREFIX)) {
    const doc = (await readJson(deps.store, props.name, asDoc))?.value;
    if (doc === undefined || now.getTime() - Date.parse(doc.requestedAt) < olderThanMs) continue;
    if ((await deps.projections.run(doc.rollbackRunId)) !== undefined) continue;
    yield doc;
  }
}
