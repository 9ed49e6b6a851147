import { createHash } from "node:crypto";
import type { HandlerContext } from "@retrain/bus";
import type { CloudEvent, EventTypes } from "@retrain/contracts";
import { withSpan } from "@retrain/telemetry";
import { JobFailure, type JobContext } from "./executor.js";
import type { JobDocument, JobResult } from "./job.js";
import type { JobService } from "./job-service.js";
import { openLocation, writeLocation } from "./locations.js";
import { isTerminalStatus } from "./wire.js";

/** Options for {@link runQueuedJob}. */
export interface RunQueuedJobOptions {
  /** Worker attempts after which an unexpected error fails the job instead of retrying it. Default 3. */
  readonly maxAttempts?: number;
  /** How often a running job checks whether it was cancelled elsewhere. Default 500 ms. */
  readonly cancelPollMs?: number;
}

/**
 * The handler of `BatchJobQueued` commands (competing consumers across replicas): runs the job,
 * writes its outputs, records the terminal state and its events in one compare-and-set, then relays
 * them. A redelivery after a crash finds the job's document as the crash left it: a terminal job
 * only relays what is unsent, a `Running` one is run again (outputs are deterministic for the seed).
 */
export async function runQueuedJob(
  event: CloudEvent<typeof EventTypes.BatchJobQueued>,
  context: HandlerContext<typeof EventTypes.BatchJobQueued>,
  service: JobService,
  options: RunQueuedJobOptions = {},
): Promise<void> {
  const { workspace, service: name, jobId } = event.data;
  if (event.data.host !== service.executor.host) return;
  const existing = await service.jobs.get(workspace, name, jobId);
  if (existing === undefined) {
    context.logger.warn({ job_id: jobId }, "queued job has no document; dropping the command");
    return;
  }
  if (isTerminalStatus(existing.status)) {
    await service.relay(existing);
    return;
  }
  const { job } = await service.jobs.update(workspace, name, jobId, (current) =>
    isTerminalStatus(current.status)
      ? undefined
      : { ...current, status: "Running", startedAt: current.startedAt ?? new Date().toISOString(), attempts: current.attempts + 1 },
  );
  if (job === undefined || isTerminalStatus(job.status)) {
    if (job !== undefined) await service.relay(job);
    return;
  }
  service.countStatus("Running");

  const controller = new AbortController();
  const onShutdown = () => controller.abort(context.signal.reason);
  context.signal.addEventListener("abort", onShutdown, { once: true });
  service.running.set(jobId, controller);
  const poll = setInterval(() => {
    void service.jobs.get(workspace, name, jobId).then(
      (current) => {
        if (current?.status === "Cancelled") controller.abort(new Error("job cancelled"));
      },
      () => undefined,
    );
  }, options.cancelPollMs ?? 500);
  try {
    const terminal = await withSpan(
      `bes job ${name}`,
      { attributes: { "retrain.job_id": jobId, "retrain.workspace": workspace, "retrain.service": name, ...(job.runId ? { "retrain.run_id": job.runId } : {}) } },
      () => execute(job, controller.signal, context, service, options),
    );
    if (terminal !== undefined && isTerminalStatus(terminal.status)) service.countStatus(terminal.status);
    if (terminal !== undefined) await service.relay(terminal);
  } finally {
    clearInterval(poll);
    service.running.delete(jobId);
    context.signal.removeEventListener("abort", onShutdown);
  }
}

async function execute(
  job: JobDocument,
  signal: AbortSignal,
  context: HandlerContext<typeof EventTypes.BatchJobQueued>,
  service: JobService,
  options: RunQueuedJobOptions,
): Promise<JobDocument | undefined> {
  const { workspace, service: name, id } = job;
  const jobContext: JobContext = {
    signal,
    logger: context.logger,
    heartbeat: () => context.heartbeat(),
    openInput: async (input) => {
      const location = job.inputs[input];
      if (location === undefined) throw new JobFailure("InputNotSpecified", `The job has no input '${input}'.`);
      return openLocation(location, service.locations, input, signal);
    },
    writeArtifact: async (file, body, contentType) => {
      const blobName = service.jobs.artifactName(job, file);
      const props = await service.locations.store.put(blobName, body, { contentType });
      return { name: blobName, etag: props.etag, size: props.size };
    },
  };
  const finish = (mutate: (current: JobDocument) => JobDocument) =>
    service.jobs.update(workspace, name, id, (current) => {
      // Cancelled (or finished by another attempt) while this one ran: that state stands.
      if (isTerminalStatus(current.status)) return undefined;
      const next = mutate(current);
      return { ...next, outbox: [...current.outbox, ...service.executor.eventsFor(next)] };
    });

  try {
    const outcome = await service.executor.run(job, jobContext);
    signal.throwIfAborted();
    const results: Record<string, JobResult> = {};
    for (const [output, produced] of Object.entries(outcome.outputs)) {
      const location = job.outputs[output];
      if (location === undefined) continue;
      const written = await writeLocation(location, produced.body, produced.contentType, service.locations, output);
      results[output] = {
        location,
        contentType: produced.contentType,
        size: written.size,
        etag: written.etag,
        sha256: createHash("sha256").update(produced.body).digest("hex"),
      };
    }
    const { job: done } = await finish((current) => ({
      ...current,
      status: "Finished",
      endedAt: new Date().toISOString(),
      results,
      ...(outcome.summary !== undefined ? { summary: outcome.summary } : {}),
    }));
    return done;
  } catch (error) {
    if (signal.aborted) {
      // Cancelled: the DELETE recorded it. Shutting down: give the command back for another worker.
      if (context.signal.aborted) throw error;
      return service.jobs.get(workspace, name, id);
    }
    const failure =
      error instanceof JobFailure
        ? error
        : job.attempts >= (options.maxAttempts ?? 3)
          ? new JobFailure("InternalError", `The job failed after ${job.attempts} attempts: ${(error as Error).message}`)
          : undefined;
    if (failure === undefined) throw error; // retried by the bus with backoff
    const { job: failed } = await finish((current) => ({
      ...current,
      status: "Failed",
      endedAt: new Date().toISOString(),
      details: `${failure.code}: ${failure.message}`,
      failure: { code: failure.code, message: failure.message, ...(failure.location !== undefined ? { location: failure.location } : {}) },
    }));
    return failed;
  }
}
