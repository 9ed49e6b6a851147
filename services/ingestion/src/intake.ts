import type { Readable } from "node:stream";
import type { BlobStore } from "@retrain/blob";
import { ulid, type RunTrigger } from "@retrain/contracts";
import { HttpError } from "@retrain/service-kit";
import { injectTraceHeaders, type Logger } from "@retrain/telemetry";
import { storeDataset } from "./dataset-stream.js";
import type { Pipelines, StoredPipeline } from "./pipelines.js";
import type { RemoteSourceOptions } from "./remote-source.js";
import type { RunLedger } from "./runs.js";

/** What every door (upload, upstream event, Event Grid, schedule, re-run) works with. */
export interface IntakeDeps {
  readonly store: BlobStore;
  readonly pipelines: Pipelines;
  readonly runs: RunLedger;
  readonly logger: Logger;
  /** Logical container name recorded in BlobRefs. */
  readonly container: string;
  /** Largest dataset accepted, bytes. */
  readonly maxDatasetBytes: number;
  readonly remote: RemoteSourceOptions;
  /** Where a DatasetAvailable may name blobs of the store (`{workspace}` → the caller's workspace). */
  readonly datasetPrefixes: readonly string[];
}

/** A run's answer to the caller: 202 for a new run, 200 when identical content already had one. */
export interface RunStarted {
  readonly runId: string;
  readonly runSequence: number;
  readonly deduplicated: boolean;
}

/** The answer while the pipeline is paused (202): the trigger is recorded and started by the resume. */
export interface TriggerHeld {
  readonly held: true;
  readonly pipeline: string;
  readonly triggerId: string;
}

/** What a door answers: a run, or a held trigger. */
export type RunAccepted = RunStarted | TriggerHeld;

/** One dataset arriving for a pipeline. */
export interface IngestInput {
  readonly pipeline: StoredPipeline;
  readonly source: Readable;
  readonly trigger: RunTrigger;
  /** The caller's name for the file (metadata only: the blob name is the server's). */
  readonly filename?: string;
  /** Where it was copied from (metadata only). */
  readonly origin?: string;
  /** The content hash the sender declared: a different one is refused (400 `Sha256Mismatch`). */
  readonly expectedSha256?: string;
  /** A traceparent the sender gave in the event itself (else the active trace context is used). */
  readonly traceparent?: string;
  /**
   * The source was opened for this ingest (a store blob, a URL), so it is closed when the ingest ends,
   * read or not: a refused dataset leaves it unread, holding a file handle or a connection. Not for an
   * HTTP request body (its connection carries the answer).
   */
  readonly ownsSource?: boolean;
}

/** Looks a pipeline up, 404 `PipelineNotFound` when there is none. */
export async function requirePipeline(deps: Pick<IntakeDeps, "pipelines">, name: string): Promise<StoredPipeline> {
  const pipeline = await deps.pipelines.get(name);
  if (pipeline === undefined) throw new HttpError(404, "PipelineNotFound", `Pipeline '${name}' was not found.`);
  return pipeline;
}

/** The trace context a run continues: the given traceparent, else the active span's. */
export function runTraceContext(traceparent?: string): { traceparent?: string; tracestate?: string } {
  if (traceparent !== undefined) return { traceparent };
  const carrier: Record<string, string> = {};
  injectTraceHeaders(carrier);
  return {
    ...(carrier["traceparent"] !== undefined ? { traceparent: carrier["traceparent"] } : {}),
    ...(carrier["tracestate"] !== undefined ? { tracestate: carrier["tracestate"] } : {}),
  };
}

/**
 * Copies a dataset into the store under a server-made name (`ingestion/datasets/<pipeline>/<runId>.csv`),
 * checking it on the way, and starts a run — or, when the pipeline already has a run of identical
 * content, answers with that run and deletes the copy. Nothing is published when the dataset is refused.
 */
export async function ingestDataset(deps: IntakeDeps, input: IngestInput): Promise<RunAccepted> {
  try {
    return await ingest(deps, input);
  } finally {
    if (input.ownsSource === true) input.source.destroy();
  }
}

async function ingest(deps: IntakeDeps, input: IngestInput): Promise<RunAccepted> {
  const { pipeline } = input;
  const runId = ulid();
  const name = `ingestion/datasets/${pipeline.name}/${runId}.csv`;
  const metadata: Record<string, string> = { pipeline: pipeline.name, runid: runId };
  if (input.filename !== undefined) metadata["filename"] = asciiMetadata(input.filename);
  if (input.origin !== undefined) metadata["origin"] = asciiMetadata(input.origin);
  const dataset = await storeDataset(deps.store, name, input.source, {
    limitBytes: deps.maxDatasetBytes,
    container: deps.container,
    metadata,
    ...(pipeline.columns !== undefined ? { columns: pipeline.columns } : {}),
  });
  if (input.expectedSha256 !== undefined && dataset.sha256 !== input.expectedSha256) {
    await deps.store.delete(name).catch(() => undefined);
    throw new HttpError(400, "Sha256Mismatch", `The dataset's SHA-256 is ${dataset.sha256}, not the declared ${input.expectedSha256}.`);
  }
  const result = await deps.runs.start({
    pipeline,
    runId,
    dataset,
    trigger: input.trigger,
    kind: "new-data",
    ...runTraceContext(input.traceparent),
  });
  if (result.outcome === "tick-taken") throw new Error("unreachable: a dataset is not a schedule tick");
  if (result.outcome === "held") {
    // The held trigger names its own copy; a second copy of identical content is not kept.
    if (result.duplicate) await deps.store.delete(name).catch((error: unknown) => deps.logger.warn({ err: error, blob: name }, "could not delete a duplicate dataset"));
    deps.logger.info({ pipeline: pipeline.name, trigger_id: result.triggerId, duplicate: result.duplicate }, "pipeline paused: dataset accepted, its run held");
    return { held: true, pipeline: pipeline.name, triggerId: result.triggerId };
  }
  if (result.outcome === "deduplicated") {
    await deps.store.delete(name).catch((error: unknown) => deps.logger.warn({ err: error, blob: name }, "could not delete a duplicate dataset"));
  }
  deps.logger.info({ run_id: result.runId, pipeline: pipeline.name, run_sequence: result.runSequence, deduplicated: result.outcome === "deduplicated" }, "dataset accepted");
  return { runId: result.runId, runSequence: result.runSequence, deduplicated: result.outcome === "deduplicated" };
}

function asciiMetadata(text: string): string {
  return encodeURIComponent(text).slice(0, 1024);
}
