import { createHash, randomBytes } from "node:crypto";
import { DEFAULT_RESULT_SAS_LIFETIME_MS, type BlobStore } from "@retrain/blob";
import type { EventBus } from "@retrain/bus";
import type { CounterMetric, MetricsRegistry, SecretBox } from "@retrain/service-kit";
import { createEvent, deterministicEventId, EventTypes, parseEvent, type AnyEvent } from "@retrain/contracts";
import { injectTraceHeaders, type Logger } from "@retrain/telemetry";
import { besError, notFound } from "./errors.js";
import type { BatchServiceSpec, JobExecutor } from "./executor.js";
import type { JobDocument } from "./job.js";
import { JobStore } from "./job-store.js";
import { locationBlobName, locationExists, locationFromReference, locationFromUri, resultReference, type DataLocation, type LocationDeps } from "./locations.js";
import { isTerminalStatus, type BatchExecutionRequest, type BatchExecutionStatus } from "./wire.js";

/** Options for {@link JobService}. */
export interface JobServiceOptions {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly executor: JobExecutor;
  readonly logger: Logger;
  /** Blob prefix the host owns, e.g. `trainer`. */
  readonly prefix: string;
  /** Hosts BES may read from / write to by URL (SSRF guard). Default none beyond the own store. */
  readonly allowedHosts?: readonly string[];
  /** Host of the own store's read URLs. */
  readonly ownHost?: string;
  /** Lifetime of the SAS in `Results` (refreshed on every GET). Default 24 h, as observed on the classic service. */
  readonly resultSasLifetimeMs?: number;
  /** CloudEvents `source` of the events this host publishes. */
  readonly source: string;
  /**
   * Seals connection strings, SAS URLs and global parameter values in stored job documents (from
   * `RETRAIN_KEK`). Default none: they are stored in clear (the service warns at start).
   */
  readonly secrets?: SecretBox;
}

/** Extra identity for a job that belongs to a run. */
export interface RunJobOptions {
  readonly runId: string;
  readonly run: unknown;
}

const MODEL_EXTENSIONS = [".ilearner"];
const DATASET_EXTENSIONS = [".csv", ".tsv", ".arff"];

/** The job id of a run's job: derived from the run, so the same DataArrived twice is one job. */
export function jobIdForRun(runId: string): string {
  return createHash("sha256").update(`job:${runId}`).digest("hex").slice(0, 32);
}

/**
 * The Batch Execution Service's logic, shared by the HTTP routes and the event path: submit (validate
 * against the service's spec), start (queue a command through the bus), status (fresh SAS on every
 * read), cancel, and relaying the events a job's state change recorded in its outbox.
 */
export class JobService {
  readonly jobs: JobStore;
  readonly #options: JobServiceOptions;
  readonly #locations: LocationDeps;
  /** Jobs running in this process, so a DELETE here stops the training at once. */
  readonly running = new Map<string, AbortController>();
  #statusCounter: CounterMetric<"host" | "status"> | undefined;

  constructor(options: JobServiceOptions) {
    this.#options = options;
    this.jobs = new JobStore(options.store, options.prefix, options.secrets);
    this.#locations = {
      store: options.store,
      allowedHosts: options.allowedHosts ?? [],
      ...(options.ownHost !== undefined ? { ownHost: options.ownHost } : {}),
    };
  }

  /**
   * Records `retrain_bes_jobs_total{host, status}` (jobs submitted, started and ended, by the status
   * they reached in this process) and `retrain_bes_jobs_running{host}` into `registry`.
   */
  registerMetrics(registry: MetricsRegistry): void {
    this.#statusCounter = registry.counter({ name: "retrain_bes_jobs_total", help: "BES jobs by the status they reached here (NotStarted = submitted, Running = started).", labelNames: ["host", "status"] });
    registry.collectedGauge({ name: "retrain_bes_jobs_running", help: "BES jobs running in this process now.", labelNames: ["host"] }, async () => [
      { labels: { host: this.#options.executor.host }, value: this.running.size },
    ]);
  }

  /** Counts a job reaching `status` (package-internal: the runner and this service call it). */
  countStatus(status: string): void {
    this.#statusCounter?.inc({ host: this.#options.executor.host, status });
  }

  get locations(): LocationDeps {
    return this.#locations;
  }

  get executor(): JobExecutor {
    return this.#options.executor;
  }

  async #spec(workspace: string, service: string): Promise<BatchServiceSpec> {
    const spec = await this.#options.executor.describe(workspace, service);
    if (spec === undefined) throw notFound("WebServiceNotFound", `Web service '${service}' was not found in workspace '${workspace}'.`);
    return spec;
  }

  /** Validates a submit request and records the job (`NotStarted`). Returns the job id. */
  async submit(workspace: string, service: string, request: BatchExecutionRequest): Promise<string> {
    const spec = await this.#spec(workspace, service);
    const resolved = resolveRequest(spec, request);
    return this.#create(workspace, service, spec, resolved);
  }

  /**
   * Records the job of a run (the event path): its input is a blob of the own store, its id is
   * derived from the run, so a redelivered DataArrived finds the job it already made.
   */
  async submitForRun(workspace: string, service: string, inputs: Record<string, DataLocation>, run: RunJobOptions): Promise<string> {
    const spec = await this.#spec(workspace, service);
    return this.#create(workspace, service, spec, { inputs, outputs: {}, globalParameters: {} }, run);
  }

  async #create(
    workspace: string,
    service: string,
    spec: BatchServiceSpec,
    resolved: { inputs: Record<string, DataLocation>; outputs: Record<string, DataLocation>; globalParameters: Record<string, string> },
    run?: RunJobOptions,
  ): Promise<string> {
    const { inputs, outputs, globalParameters } = resolved;
    for (const [name, location] of Object.entries(inputs)) {
      if (!(await locationExists(location, this.#locations, name))) {
        throw besError("BlobNotFound", `The blob of input '${name}' was not found.`, name);
      }
    }
    const id = run !== undefined ? jobIdForRun(run.runId) : randomBytes(16).toString("hex");
    const job: JobDocument = {
      version: 1,
      id,
      host: this.#options.executor.host,
      workspace,
      service,
      status: "NotStarted",
      createdAt: new Date().toISOString(),
      attempts: 0,
      inputs,
      outputs: { ...outputs },
      globalParameters,
      outbox: [],
      ...(run !== undefined ? { runId: run.runId, run: run.run } : {}),
    };
    for (const [name, kind] of Object.entries(spec.outputs)) {
      job.outputs[name] ??= { kind: "store", name: this.jobs.artifactName(job, `${name}.${kind === "model" ? "ilearner" : "csv"}`) };
    }
    const created = await this.jobs.create(job);
    if (created) this.countStatus("NotStarted");
    if (!created) this.#options.logger.info({ job_id: id, run_id: run?.runId }, "job exists already (replayed submit)");
    return id;
  }

  async get(workspace: string, service: string, id: string): Promise<JobDocument> {
    const job = await this.jobs.get(workspace, service, id);
    if (job === undefined) throw notFound("JobNotFound", `Job '${id}' was not found.`);
    return job;
  }

  /**
   * Starts a job: records the start and the queue command in one write, then publishes the command.
   * Starting again while the command is still unpublished retries the publish (a failed publish does
   * not leave a stuck job). Starting a job past that point is `CannotStartJob`, unless `idempotent`
   * (the event path: a redelivered DataArrived starts its job at most once and quietly).
   */
  async start(workspace: string, service: string, id: string, options: { idempotent?: boolean } = {}): Promise<void> {
    const job = await this.get(workspace, service, id);
    // The command carries the trace of the start (the run's, on the event path): the worker that
    // picks it up, maybe after a restart relayed it, continues that trace.
    const trace: Record<string, string> = {};
    injectTraceHeaders(trace);
    const command = createEvent(
      EventTypes.BatchJobQueued,
      { jobId: id, host: job.host, workspace, service, ...(job.runId !== undefined ? { runId: job.runId } : {}) },
      { source: this.#options.source, id: deterministicEventId(id, EventTypes.BatchJobQueued), ...(trace["traceparent"] !== undefined ? { traceparent: trace["traceparent"] } : {}) },
    );
    const { job: updated, changed } = await this.jobs.update(workspace, service, id, (current) => {
      if (current.status !== "NotStarted" || current.startRequestedAt !== undefined) return undefined;
      return { ...current, startRequestedAt: new Date().toISOString(), outbox: [...current.outbox, command] };
    });
    if (updated === undefined) throw notFound("JobNotFound", `Job '${id}' was not found.`);
    const pending = updated.outbox.some((e) => isEvent(e) && e.id === command.id);
    if (!changed && !pending && options.idempotent !== true) {
      const state = updated.status === "NotStarted" ? "Queued" : updated.status;
      throw besError("CannotStartJob", `The job cannot be started because it is in ${state} state.`);
    }
    await this.relay(updated);
  }

  /** Cancels a job that has not ended (`Cancelled`, with its events); a no-op for an ended job. */
  async cancel(workspace: string, service: string, id: string): Promise<JobDocument> {
    await this.get(workspace, service, id);
    const { job } = await this.jobs.update(workspace, service, id, (current) => {
      if (isTerminalStatus(current.status)) return undefined;
      const cancelled: JobDocument = { ...current, status: "Cancelled", endedAt: new Date().toISOString(), details: "The job was cancelled." };
      return { ...cancelled, outbox: [...current.outbox, ...this.#options.executor.eventsFor(cancelled)] };
    });
    this.running.get(id)?.abort(new Error("job cancelled"));
    if (job === undefined) throw notFound("JobNotFound", `Job '${id}' was not found.`);
    await this.relay(job);
    return job;
  }

  /** The classic status body; a finished job's results carry a freshly minted read-only SAS. */
  async status(job: JobDocument): Promise<BatchExecutionStatus> {
    let results: BatchExecutionStatus["Results"] = null;
    if (job.status === "Finished" && job.results !== undefined) {
      results = {};
      const lifetime = this.#options.resultSasLifetimeMs ?? DEFAULT_RESULT_SAS_LIFETIME_MS;
      for (const [name, result] of Object.entries(job.results)) {
        results[name] = await resultReference(result.location, this.#locations, lifetime);
      }
    }
    return { StatusCode: job.status, Results: results, Details: job.status === "Failed" || job.status === "Cancelled" ? (job.details ?? null) : null };
  }

  /**
   * Publishes the events in a job's outbox, then removes them from it. Safe to repeat: ids are
   * deterministic, so a publish that happened before a crash is dropped as a duplicate.
   */
  async relay(job: JobDocument): Promise<void> {
    if (job.outbox.length === 0) return;
    const events: AnyEvent[] = job.outbox.map((raw) => parseEvent(raw));
    for (const event of events) await this.#options.bus.publish(event);
    const sent = new Set(events.map((e) => e.id));
    await this.jobs.update(job.workspace, job.service, job.id, (current) => {
      const rest = current.outbox.filter((e) => !(isEvent(e) && sent.has(e.id)));
      return rest.length === current.outbox.length ? undefined : { ...current, outbox: rest };
    });
  }
}

function isEvent(value: unknown): value is { id: string } {
  return typeof value === "object" && value !== null && "id" in value && typeof value.id === "string";
}

function hasExtension(name: string, extensions: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return extensions.some((ext) => lower.endsWith(ext));
}

/** Checks a submit request against a service's spec; returns its locations. Throws the classic 400s. */
export function resolveRequest(
  spec: BatchServiceSpec,
  request: BatchExecutionRequest,
): { inputs: Record<string, DataLocation>; outputs: Record<string, DataLocation>; globalParameters: Record<string, string> } {
  const globalParameters: Record<string, string> = { ...(request.GlobalParameters ?? {}) };
  if (request.Input && request.Inputs) {
    throw besError("DuplicateInputInBatchCall", "You cannot specify both single and multiple input in a batch call.", "Input");
  }
  const given: Record<string, NonNullable<BatchExecutionRequest["Input"]>> = { ...(request.Inputs ?? {}) };
  if (request.Input) {
    const first = spec.inputs[0];
    if (first === undefined) throw besError("BatchJobInputsTooManySpecified", "This web service takes no input.", "Input");
    given[first] = request.Input;
  }
  const names = Object.keys(given);
  if (names.length > spec.inputs.length) {
    throw besError("BatchJobInputsTooManySpecified", `This web service takes ${spec.inputs.length} input(s); ${names.length} were given.`, "Inputs");
  }
  const unknown = names.filter((n) => !spec.inputs.includes(n));
  if (unknown.length > 0) {
    throw besError("InvalidInputNames", `Unknown input name(s): ${unknown.join(", ")}. This web service takes: ${spec.inputs.join(", ")}.`, unknown[0]);
  }
  const inputs: Record<string, DataLocation> = {};
  for (const [name, ref] of Object.entries(given)) inputs[name] = locationFromReference(ref, name);
  const uri = globalParameters["URI"];
  if (uri !== undefined && spec.inputs[0] !== undefined && inputs[spec.inputs[0]] === undefined) {
    inputs[spec.inputs[0]] = locationFromUri(uri);
  }
  const missingInputs = spec.inputs.filter((n) => inputs[n] === undefined);
  if (missingInputs.length > 0) {
    throw besError("BatchJobInputsNotSpecified", `The following required input(s) were not specified with the request: ${missingInputs.join(", ")}.`, missingInputs[0]);
  }
  const outputs: Record<string, DataLocation> = {};
  for (const [name, ref] of Object.entries(request.Outputs ?? {})) {
    const kind = spec.outputs[name];
    if (kind === undefined) {
      throw besError(
        "InvalidOutputOverrideName",
        `Invalid output override name '${name}' (output names are case-sensitive). This web service has: ${Object.keys(spec.outputs).join(", ")}.`,
        name,
      );
    }
    const location = locationFromReference(ref, name);
    const blob = locationBlobName(location);
    const allowed = kind === "model" ? MODEL_EXTENSIONS : DATASET_EXTENSIONS;
    if (!hasExtension(blob, allowed)) {
      throw besError("InvalidBlobExtension", `The blob for output '${name}' must have the extension ${allowed.join(", ")}.`, name);
    }
    outputs[name] = location;
  }
  const missingParams = Object.entries(spec.globalParameters ?? {})
    .filter(([name, p]) => p.required && globalParameters[name] === undefined)
    .map(([name]) => name);
  if (missingParams.length > 0) {
    throw besError("MissingRequiredGlobalParameters", `Missing required global parameter(s): ${missingParams.join(", ")}.`, missingParams[0]);
  }
  return { inputs, outputs, globalParameters };
}
