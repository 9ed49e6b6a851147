import type { EventBus, HandlerContext } from "@retrain/bus";
import { createEvent, EventTypes, targetKey, type AnyEvent, type CloudEvent } from "@retrain/contracts";
import { HttpError, assertWorkspaceAccess, type Principal } from "@retrain/service-kit";
import { z } from "zod";
import { workspaceOf, type StoredPipeline } from "../pipelines.js";
import type { PipelineState, RunLedger, RunRecord } from "../runs.js";

/** What run control needs. */
export interface RunControlDeps {
  readonly runs: RunLedger;
  readonly bus: EventBus;
  /** CloudEvents source of RunCancelled. */
  readonly source: string;
}

/** Body of `POST /v1/pipelines/{name}/runs/{runId}/cancel`. */
export const CancelRequest = z.object({ reason: z.string().max(2000).optional() }).strict();
export type CancelRequest = z.output<typeof CancelRequest>;

/** A pipeline as the API shows it: its definition and whether it is paused, with how many triggers are held. */
export function pipelineView(pipeline: StoredPipeline, state: PipelineState | undefined): Record<string, unknown> {
  return {
    ...pipeline,
    paused: state?.paused !== undefined,
    ...(state?.paused !== undefined ? { pausedAt: state.paused.at, pausedBy: state.paused.by } : {}),
    heldTriggers: state?.held?.length ?? 0,
  };
}

/** The RunCancelled of a cancelled run, rebuilt from its record: the same id and time on every publish. */
export function runCancelledEvent(record: RunRecord, source: string): CloudEvent<typeof EventTypes.RunCancelled> | undefined {
  const cancelled = record.cancelled;
  if (cancelled === undefined) return undefined;
  return createEvent(
    EventTypes.RunCancelled,
    {
      runId: record.runId,
      pipeline: record.pipeline,
      runSequence: record.runSequence,
      plan: record.plan,
      cancelledBy: cancelled.by,
      ...(cancelled.reason !== undefined ? { reason: cancelled.reason } : {}),
    },
    { source, time: new Date(cancelled.at), ...(record.traceparent !== undefined ? { traceparent: record.traceparent } : {}) },
  );
}

/** The DataArrived of a run, rebuilt from its record (the record keeps the event's id, time and data). */
export function dataArrivedEvent(record: RunRecord, source: string): CloudEvent<typeof EventTypes.DataArrived> {
  return createEvent(
    EventTypes.DataArrived,
    { runId: record.runId, pipeline: record.pipeline, runSequence: record.runSequence, trigger: record.trigger, dataset: record.dataset, plan: record.plan },
    { source, id: record.eventId, time: new Date(record.createdAt), ...(record.traceparent !== undefined ? { traceparent: record.traceparent } : {}) },
  );
}

/**
 * Cancels a run: the record is marked in one compare-and-set (409 `RunTerminal` when ingestion saw it
 * end), then RunCancelled is published. Cancelling a cancelled run publishes the same event again
 * (a retry after a failed publish), so the record is the outbox.
 */
export async function cancelRun(pipeline: StoredPipeline, runId: string, principal: Principal, request: CancelRequest, deps: RunControlDeps, now = new Date()): Promise<RunRecord> {
  assertWorkspaceAccess(principal, workspaceOf(pipeline), "pipeline");
  let ended: RunRecord["ended"];
  const { record } = await deps.runs.updateRun(pipeline.name, runId, (current) => {
    ended = current.cancelled === undefined ? current.ended : undefined;
    if (current.cancelled !== undefined || current.ended !== undefined) return undefined;
    return { ...current, cancelled: { at: now.toISOString(), by: principal.name, ...(request.reason !== undefined ? { reason: request.reason } : {}) } };
  });
  if (record === undefined) throw new HttpError(404, "RunNotFound", `Run '${runId}' of pipeline '${pipeline.name}' was not found.`);
  if (ended !== undefined) throw new HttpError(409, "RunTerminal", `Run '${runId}' has ended already (${ended.outcome}).`);
  const event = runCancelledEvent(record, deps.source);
  if (event !== undefined) await deps.bus.publish(event);
  return record;
}

/** The events that tell ingestion a run ended (it answers `RunTerminal` to a cancel after them). */
export const RUN_END_TYPES = [EventTypes.TrainingFailed, EventTypes.ModelRejected, EventTypes.ModelApproved, EventTypes.EndpointUpdated, EventTypes.PromotionFailed] as const;

/** Records in a run's record that it ended, or that one more target settled. Other runs (a rollback's) are not ingestion's. */
export async function onRunProgress(event: AnyEvent, deps: Pick<RunControlDeps, "runs">): Promise<void> {
  const data = event.data;
  if (!("runId" in data) || !("pipeline" in data) || data.pipeline === undefined) return;
  const at = event.time;
  await deps.runs.updateRun(data.pipeline, data.runId, (current) => {
    if (current.ended !== undefined) return undefined;
    switch (event.type) {
      case EventTypes.TrainingFailed:
        return { ...current, ended: { at, outcome: "failed" } };
      case EventTypes.ModelRejected:
        return { ...current, ended: { at, outcome: "rejected" } };
      case EventTypes.ModelApproved:
        return current.plan.targets.length === 0 ? { ...current, ended: { at, outcome: "approved" } } : undefined;
      case EventTypes.EndpointUpdated:
      case EventTypes.PromotionFailed: {
        const key = targetKey(event.data.target);
        const settled = current.settled ?? [];
        if (settled.includes(key)) return undefined;
        const next = [...settled, key];
        const all = current.plan.targets.every((t) => next.includes(targetKey(t)));
        return { ...current, settled: next, ...(all ? { ended: { at, outcome: "promoted" } } : {}) };
      }
      default:
        return undefined;
    }
  });
}

/**
 * The reconciler asks for a run to be re-driven: for the training stage ingestion re-publishes the
 * run's DataArrived (the trainer may never have got it); at any stage a cancelled run's RunCancelled
 * goes out again. Same event ids, a fresh transport id per request so the broker window lets it through.
 */
export async function onRedriveRequested(
  command: CloudEvent<typeof EventTypes.RunRedriveRequested>,
  context: HandlerContext<typeof EventTypes.RunRedriveRequested>,
  deps: RunControlDeps,
): Promise<void> {
  const { runId, pipeline, stage } = command.data;
  if (pipeline === undefined) return;
  const record = await deps.runs.run(pipeline, runId);
  if (record === undefined) return;
  const messageId = (event: AnyEvent): string => `${event.id}/${command.id}`;
  const cancelled = runCancelledEvent(record, deps.source);
  if (cancelled !== undefined) {
    await deps.bus.publish(cancelled, { messageId: messageId(cancelled) });
    context.logger.info({ run_id: runId, stage }, "re-published RunCancelled for the reconciler");
    return;
  }
  if (stage !== "training") return;
  const arrived = dataArrivedEvent(record, deps.source);
  await deps.bus.publish(arrived, { messageId: messageId(arrived) });
  context.logger.info({ run_id: runId, stage }, "re-published DataArrived for the reconciler");
}
