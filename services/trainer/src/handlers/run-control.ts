import { isTerminalStatus, jobIdForRun, type JobService } from "@retrain/bes";
import { isBlobError, readJson, type BlobStore } from "@retrain/blob";
import type { EventBus, HandlerContext } from "@retrain/bus";
import { EventTypes, type AnyEvent, type CloudEvent } from "@retrain/contracts";
import { z } from "zod";

/**
 * What the trainer remembers per run (`trainer/runs/<runId>.json`): where the run's job is (so a
 * re-drive, which names only the run, finds it) and whether the run was cancelled.
 */
export const TrainerRunRecord = z.object({
  runId: z.string(),
  workspace: z.string(),
  service: z.string(),
  jobId: z.string(),
  cancelledAt: z.string().optional(),
  /** When a DataArrived came after the cancel and was left untrained (for people reading the record). */
  dataIgnoredAt: z.string().optional(),
});
export type TrainerRunRecord = z.infer<typeof TrainerRunRecord>;

const parse = (value: unknown): TrainerRunRecord => TrainerRunRecord.parse(value);

/** What run control in the trainer needs. */
export interface TrainerRunControlDeps {
  readonly store: BlobStore;
  readonly jobs: JobService;
  readonly bus: EventBus;
}

export function trainerRunBlobName(runId: string): string {
  return `trainer/runs/${encodeURIComponent(runId)}.json`;
}

export async function trainerRun(store: BlobStore, runId: string): Promise<TrainerRunRecord | undefined> {
  return (await readJson(store, trainerRunBlobName(runId), parse))?.value;
}

/** Notes where a run's job is (first writer wins: the job id derives from the run). */
export async function rememberRunJob(store: BlobStore, record: Pick<TrainerRunRecord, "runId" | "workspace" | "service" | "jobId">): Promise<void> {
  try {
    await store.put(trainerRunBlobName(record.runId), JSON.stringify(record), { ifNoneMatch: "*", contentType: "application/json" });
  } catch (error) {
    if (!isBlobError(error, "Conflict")) throw error;
  }
}

/**
 * RunCancelled → the run is marked cancelled here first (so a DataArrived arriving after it trains
 * nothing), then its job, if any, is cancelled (a running job is aborted, by the poll on another
 * replica too; its TrainingFailed `Cancelled` goes out through the job's outbox).
 */
export async function onRunCancelled(
  event: CloudEvent<typeof EventTypes.RunCancelled>,
  context: HandlerContext<typeof EventTypes.RunCancelled>,
  deps: TrainerRunControlDeps,
): Promise<void> {
  const { runId, plan } = event.data;
  const { workspace, service } = plan.trainingWebService;
  const jobId = jobIdForRun(runId);
  const name = trainerRunBlobName(runId);
  const current = await trainerRun(deps.store, runId);
  if (current?.cancelledAt === undefined) {
    const record: TrainerRunRecord = { ...(current ?? { runId, workspace, service, jobId }), cancelledAt: event.time };
    await deps.store.put(name, JSON.stringify(record), { contentType: "application/json" });
  }
  await cancelRunJob(deps.jobs, workspace, service, jobId, context);
}

async function cancelRunJob(jobs: JobService, workspace: string, service: string, jobId: string, context: { logger: HandlerContext["logger"] }): Promise<void> {
  const job = await jobs.jobs.get(workspace, service, jobId);
  if (job === undefined) return;
  if (isTerminalStatus(job.status)) return;
  await jobs.cancel(workspace, service, jobId);
  context.logger.info({ job_id: jobId }, "run cancelled: its training job is cancelled");
}

/** After a run's job was created: a cancel that came in meanwhile cancels it now. True when the run is cancelled. */
export async function cancelledAfterSubmit(deps: TrainerRunControlDeps, runId: string, workspace: string, service: string, jobId: string, context: { logger: HandlerContext["logger"] }): Promise<boolean> {
  const record = await trainerRun(deps.store, runId);
  if (record?.cancelledAt === undefined) return false;
  await cancelRunJob(deps.jobs, workspace, service, jobId, context);
  return true;
}

/**
 * The reconciler asks for a run: for its training stage the trainer re-publishes its outcome
 * (ModelTrained or TrainingFailed); for its evaluation stage it re-publishes ModelTrained (the
 * evaluator may never have got it). The events are rebuilt from the job document exactly as first
 * published (same id, same time), with a fresh transport id.
 */
export async function onRedriveRequested(
  command: CloudEvent<typeof EventTypes.RunRedriveRequested>,
  context: HandlerContext<typeof EventTypes.RunRedriveRequested>,
  deps: TrainerRunControlDeps,
): Promise<void> {
  const { runId, stage } = command.data;
  if (stage !== "training" && stage !== "evaluation") return;
  const record = await trainerRun(deps.store, runId);
  if (record === undefined) return;
  const job = await deps.jobs.jobs.get(record.workspace, record.service, record.jobId);
  if (job === undefined) return;
  if (!isTerminalStatus(job.status)) {
    // Still queued or running: a start command left unsent goes out now; the job then ends by itself.
    await deps.jobs.relay(job);
    return;
  }
  const events: AnyEvent[] = deps.jobs.executor.eventsFor(job);
  for (const event of events) {
    if (stage === "evaluation" && event.type !== EventTypes.ModelTrained) continue;
    await deps.bus.publish(event, { messageId: `${event.id}/${command.id}` });
  }
  context.logger.info({ run_id: runId, stage, events: events.length }, "re-published the run's training outcome for the reconciler");
}

/** Notes on a cancelled run's record that its data came and was not trained. */
export async function noteDataIgnored(store: BlobStore, record: TrainerRunRecord, now = new Date()): Promise<void> {
  if (record.dataIgnoredAt !== undefined) return;
  await store.put(trainerRunBlobName(record.runId), JSON.stringify({ ...record, dataIgnoredAt: now.toISOString() }), { contentType: "application/json" });
}
