import { isBlobError, type BlobStore } from "@retrain/blob";
import type { EventBus, HandlerContext } from "@retrain/bus";
import { EventTypes, parseEvent, type CloudEvent } from "@retrain/contracts";
import type { Evaluations } from "../evaluation.js";

/** What run control in the evaluator needs. */
export interface EvaluatorRunControlDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly evaluations: Evaluations;
}

/** A cancelled run's marker (`evaluator/cancelled/<runId>.json`): written even when the run has no evaluation yet. */
export function cancelledBlobName(runId: string): string {
  return `evaluator/cancelled/${encodeURIComponent(runId)}.json`;
}

/** Whether the run was cancelled. */
export async function isCancelled(store: BlobStore, runId: string): Promise<boolean> {
  return (await store.head(cancelledBlobName(runId))) !== undefined;
}

/**
 * RunCancelled → the run is marked here (so a ModelTrained arriving later is not evaluated) and its
 * evaluation, when there is one, records it (a pending approval can no longer be approved).
 */
export async function onRunCancelled(
  event: CloudEvent<typeof EventTypes.RunCancelled>,
  context: HandlerContext<typeof EventTypes.RunCancelled>,
  deps: EvaluatorRunControlDeps,
): Promise<void> {
  const { runId, cancelledBy } = event.data;
  try {
    await deps.store.put(cancelledBlobName(runId), JSON.stringify({ runId, at: event.time, ...(cancelledBy !== undefined ? { by: cancelledBy } : {}) }), {
      ifNoneMatch: "*",
      contentType: "application/json",
    });
  } catch (error) {
    if (!isBlobError(error, "Conflict")) throw error;
  }
  const { changed } = await deps.evaluations.update(runId, (current) =>
    current === undefined || current.cancelled !== undefined ? undefined : { ...current, cancelled: { at: event.time, ...(cancelledBy !== undefined ? { by: cancelledBy } : {}) } },
  );
  if (changed) context.logger.info({ run_id: runId }, "run cancelled: its evaluation is closed");
}

/**
 * The reconciler asks for a run: for its evaluation stage the evaluator re-publishes its decision;
 * for its promotion stage, its ModelApproved (a promoter may never have got it). The events go out
 * exactly as first published (same id and time) with a fresh transport id; an unsent outbox is relayed.
 */
export async function onRedriveRequested(
  command: CloudEvent<typeof EventTypes.RunRedriveRequested>,
  context: HandlerContext<typeof EventTypes.RunRedriveRequested>,
  deps: EvaluatorRunControlDeps,
): Promise<void> {
  const { runId, stage } = command.data;
  if (stage !== "evaluation" && stage !== "promotion") return;
  const doc = await deps.evaluations.get(runId);
  if (doc === undefined || doc.cancelled !== undefined) return;
  let sent = 0;
  for (const raw of [...(doc.published ?? []), ...doc.outbox]) {
    const event = parseEvent(raw);
    if (stage === "promotion" && event.type !== EventTypes.ModelApproved) continue;
    await deps.bus.publish(event, { messageId: `${event.id}/${command.id}` });
    sent++;
  }
  context.logger.info({ run_id: runId, stage, events: sent }, "re-published the run's evaluation events for the reconciler");
}
