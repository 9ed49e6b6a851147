import type { Readable } from "node:stream";
import type { AnyEvent } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import type { JobDocument } from "./job.js";

/** What a batch service takes and produces, as the submit request is checked against it. */
export interface BatchServiceSpec {
  /** Web service input names, e.g. `["input1"]`; empty when the service takes none. */
  readonly inputs: readonly string[];
  /** Output names and what each holds: a trained model (`.ilearner`) or a dataset (`.csv/.tsv/.arff`). */
  readonly outputs: Readonly<Record<string, "model" | "dataset">>;
  /** Global parameters the service declares, and whether each is required. */
  readonly globalParameters?: Readonly<Record<string, { readonly required: boolean }>>;
}

/** What a running job may do besides computing. */
export interface JobContext {
  /** Aborted when the job is cancelled or the worker shuts down. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Keeps the job's queue message alive while working (call it from progress callbacks). */
  heartbeat(): void;
  /** Opens a named input (or the `URI` global parameter when the job was given one). */
  openInput(name: string): Promise<Readable>;
  /** Stores an extra artifact of the job in the host's own store (e.g. the holdout rows). */
  writeArtifact(file: string, body: Buffer, contentType: string): Promise<{ name: string; etag: string; size: number }>;
}

/** A job's outputs by name, and what it wants remembered. */
export interface JobOutcome {
  readonly outputs: Readonly<Record<string, { readonly body: Buffer; readonly contentType: string }>>;
  readonly summary?: Record<string, unknown>;
}

/** The part of a BES host that differs between hosts: what services exist, how a job runs, what it announces. */
export interface JobExecutor {
  readonly host: "trainer" | "scoring";
  /** The service's spec, or undefined when there is no such service in the workspace. */
  describe(workspace: string, service: string): Promise<BatchServiceSpec | undefined>;
  /** Runs the job. Throws {@link JobFailure} for a failure of the input (the job ends `Failed`). */
  run(job: JobDocument, context: JobContext): Promise<JobOutcome>;
  /** The events a job in a terminal state causes (e.g. ModelTrained or TrainingFailed for a run); deterministic ids. */
  eventsFor(job: JobDocument): AnyEvent[];
}

/** A job failed because of what it was given (bad CSV, missing column): recorded, not retried. */
export class JobFailure extends Error {
  override readonly name = "JobFailure";
  constructor(
    readonly code: string,
    message: string,
    /** Where in the input, e.g. `line 17`. */
    readonly location?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
