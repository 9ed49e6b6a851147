import { jobIdForRun, type JobService } from "@retrain/bes";
import type { EventBus, HandlerContext } from "@retrain/bus";
import { createEvent, EventTypes, type CloudEvent } from "@retrain/contracts";
import { HttpError } from "@retrain/service-kit";
import { cancelledAfterSubmit, noteDataIgnored, rememberRunJob, trainerRun, type TrainerRunControlDeps } from "./run-control.js";

/** What the DataArrived handler needs. */
export interface DataArrivedDeps extends TrainerRunControlDeps {
  readonly jobs: JobService;
  readonly bus: EventBus;
  readonly source: string;
}

/**
 * DataArrived → a BES job for the run's training web service, created and started through the same
 * code path as the API. The job id derives from the run, so a duplicate delivery finds the same job
 * and starting it again is a no-op. A run whose training web service does not exist, or whose
 * dataset is gone, ends at once with TrainingFailed.
 */
export async function onDataArrived(
  event: CloudEvent<typeof EventTypes.DataArrived>,
  context: HandlerContext<typeof EventTypes.DataArrived>,
  deps: DataArrivedDeps,
): Promise<void> {
  const { runId, pipeline, runSequence, plan, dataset } = event.data;
  const { workspace, service } = plan.trainingWebService;
  const known = await trainerRun(deps.store, runId);
  if (known?.cancelledAt !== undefined) {
    context.logger.info({ run_id: runId }, "run was cancelled before its data arrived here; nothing is trained");
    await noteDataIgnored(deps.store, known);
    return;
  }
  await rememberRunJob(deps.store, { runId, workspace, service, jobId: jobIdForRun(runId) });
  let jobId: string;
  try {
    jobId = await deps.jobs.submitForRun(workspace, service, { input1: { kind: "store", name: dataset.name } }, { runId, run: event.data });
  } catch (error) {
    if (!(error instanceof HttpError) || error.status >= 500) throw error;
    const code = error.details?.[0]?.code ?? error.code;
    context.logger.warn({ code, message: error.message }, "run cannot be trained");
    await deps.bus.publish(createEvent(EventTypes.TrainingFailed, { runId, pipeline, runSequence, code, reason: error.message }, { source: deps.source }));
    return;
  }
  // A cancel that came in while the job was being made would have found no job to cancel.
  if (await cancelledAfterSubmit(deps, runId, workspace, service, jobId, context)) return;
  await deps.jobs.start(workspace, service, jobId, { idempotent: true });
  context.logger.info({ job_id: jobId, workspace, service }, "training job queued for the run");
}
