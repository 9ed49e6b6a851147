import { createHash } from "node:crypto";
import { PassThrough, pipeline, type Readable } from "node:stream";
import { JobFailure, type BatchServiceSpec, type JobContext, type JobDocument, type JobExecutor, type JobOutcome, type JobResult } from "@retrain/bes";
import { createEvent, DataArrived, EventTypes, ulid, type AnyEvent, type BlobRef, type LearnerName, type Metrics } from "@retrain/contracts";
import {
  encodeIlearner,
  evaluateBinary,
  evaluateRegression,
  fitFeaturizer,
  isDatasetError,
  ML_LIBRARY_VERSION,
  metricsToCsv,
  readCsv,
  selectRows,
  splitRows,
  taskOf,
  trainInWorker,
  writeCsv,
  LearnerParameterError,
  TrainingDataError,
} from "@retrain/ml";
import type { Logger } from "@retrain/telemetry";
import type { TrainingServices } from "./training-services.js";

/** What the training executor needs. */
export interface TrainingExecutorOptions {
  readonly services: TrainingServices;
  /** Logical container recorded in BlobRefs. */
  readonly container: string;
  readonly source: string;
  readonly logger: Logger;
}

/** What a finished training job remembers (its `summary`), from which ModelTrained is built. */
interface TrainingSummary {
  modelId: string;
  learner: LearnerName;
  task: "binary" | "regression";
  metrics: Metrics;
  rows: number;
  trainingRows: number;
  holdoutRows: number;
  seed: number;
  datasetSha256: string;
  durationMs: number;
  fitMs: number;
  holdout: BlobRef;
  /** Which BES outputs carry the model and the evaluation (names are per training web service). */
  outputs: { model: string; evaluation: string };
}

/**
 * The training web service as a BES job: read the CSV (streaming), split off the holdout rows
 * (seeded), clean missing data and featurize on the training rows, fit the learner in a worker
 * thread, score the holdout, and write the trained model (`.ilearner`) and Evaluate Model (`.csv`).
 */
export class TrainingExecutor implements JobExecutor {
  readonly host = "trainer" as const;

  constructor(private readonly options: TrainingExecutorOptions) {}

  async describe(workspace: string, service: string): Promise<BatchServiceSpec | undefined> {
    const definition = await this.options.services.get(workspace, service);
    if (definition === undefined) return undefined;
    return { inputs: ["input1"], outputs: { [definition.outputs.model]: "model", [definition.outputs.evaluation]: "dataset" } };
  }

  async run(job: JobDocument, context: JobContext): Promise<JobOutcome> {
    const definition = await this.options.services.get(job.workspace, job.service);
    if (definition === undefined) throw new JobFailure("WebServiceNotFound", `Training web service '${job.service}' no longer exists.`);
    const run = job.run !== undefined ? DataArrived.parse(job.run) : undefined;
    const split = run?.plan.split ?? definition.split;
    const started = performance.now();
    const task = taskOf(definition.learner);
    try {
      const hash = createHash("sha256");
      const input = hashing(await context.openInput("input1"), hash);
      const frame = await readCsv(input, { abortSignal: context.signal });
      const datasetSha256 = hash.digest("hex");
      context.heartbeat();
      const { train, holdout } = splitRows(frame.rows, { fraction: 1 - split.fraction, seed: split.seed });
      const trainFrame = selectRows(frame, train);
      const holdoutFrame = selectRows(frame, holdout);
      const featurizer = fitFeaturizer(trainFrame, {
        label: definition.label,
        task,
        missing: definition.missing,
        ...(definition.features !== undefined ? { features: definition.features } : {}),
        ...(definition.positiveLabel !== undefined ? { positiveLabel: definition.positiveLabel } : {}),
      });
      const matrix = featurizer.trainingMatrix(trainFrame);
      const fitStarted = performance.now();
      const model = await trainInWorker({
        learner: definition.learner,
        matrix,
        parameters: definition.parameters,
        seed: split.seed,
        signal: context.signal,
        onProgress: () => context.heartbeat(),
      });
      const fitMs = performance.now() - fitStarted;
      const scored = featurizer.trainingMatrix(holdoutFrame);
      const predictions = model.predict(scored.x, scored.rows);
      const evaluated = task === "binary" ? evaluateBinary(scored.y, predictions, 0.5, featurizer.classLabel(1)) : evaluateRegression(scored.y, predictions);
      const metrics = numericMetrics(evaluated);
      const modelBytes = encodeIlearner({
        learner: definition.learner,
        task,
        parameters: model.parameters,
        state: model.toState(),
        featureSchema: featurizer.schema,
        lineage: { datasetSha256, rows: matrix.rows, seed: split.seed, trainedAt: new Date().toISOString(), libraryVersion: ML_LIBRARY_VERSION, jobId: job.id },
      });
      const holdoutCsv = Buffer.from(writeCsv(holdoutFrame));
      const stored = await context.writeArtifact("holdout.csv", holdoutCsv, "text/csv");
      const summary: TrainingSummary = {
        modelId: ulid(),
        learner: definition.learner,
        task,
        metrics,
        rows: frame.rows,
        trainingRows: matrix.rows,
        holdoutRows: scored.rows,
        seed: split.seed,
        datasetSha256,
        durationMs: Math.round(performance.now() - started),
        fitMs: Math.round(fitMs),
        holdout: { container: this.options.container, name: stored.name, etag: stored.etag, size: stored.size, sha256: sha256(holdoutCsv), contentType: "text/csv" },
        outputs: { model: definition.outputs.model, evaluation: definition.outputs.evaluation },
      };
      return {
        outputs: {
          [definition.outputs.model]: { body: modelBytes, contentType: "application/octet-stream" },
          [definition.outputs.evaluation]: { body: Buffer.from(metricsToCsv(evaluated)), contentType: "text/csv" },
        },
        summary: { ...summary },
      };
    } catch (error) {
      if (context.signal.aborted) throw error;
      if (isDatasetError(error)) {
        throw new JobFailure(error.code, error.message, error.line !== undefined ? `line ${error.line}` : undefined, { cause: error });
      }
      if (error instanceof TrainingDataError || error instanceof LearnerParameterError) {
        throw new JobFailure(error.name === "LearnerParameterError" ? "LearnerParameterInvalid" : "TrainingDataInvalid", error.message, undefined, { cause: error });
      }
      throw error;
    }
  }

  eventsFor(job: JobDocument): AnyEvent[] {
    if (job.run === undefined) return [];
    const run = DataArrived.parse(job.run);
    const base = { runId: run.runId, pipeline: run.pipeline, runSequence: run.runSequence };
    // Stamped with the job's end, so rebuilding them later (a re-drive) gives the very same events.
    const source = this.options.source;
    const options = { source, ...(job.endedAt !== undefined ? { time: new Date(job.endedAt) } : {}) };
    if (job.status === "Finished") {
      const summary = job.summary as unknown as TrainingSummary;
      const model = job.results?.[summary.outputs.model];
      const evaluation = job.results?.[summary.outputs.evaluation];
      // A run's job always writes to the own store (no output overrides on the event path).
      if (model?.location.kind !== "store" || evaluation?.location.kind !== "store") return [];
      const ref = (result: JobResult, contentType: string): BlobRef => ({
        container: this.options.container,
        name: result.location.kind === "store" ? result.location.name : "",
        etag: result.etag,
        size: result.size,
        ...(result.sha256 !== undefined ? { sha256: result.sha256 } : {}),
        contentType,
      });
      return [
        createEvent(
          EventTypes.ModelTrained,
          {
            ...base,
            plan: run.plan,
            jobId: job.id,
            model: { modelId: summary.modelId, blob: ref(model, "application/octet-stream"), learner: summary.learner, task: summary.task, runId: run.runId, runSequence: run.runSequence },
            evaluation: ref(evaluation, "text/csv"),
            holdout: summary.holdout,
            metrics: summary.metrics,
            lineage: {
              datasetSha256: summary.datasetSha256,
              rows: summary.rows,
              trainingRows: summary.trainingRows,
              holdoutRows: summary.holdoutRows,
              learner: summary.learner,
              seed: summary.seed,
              durationMs: summary.durationMs,
            },
          },
          options,
        ),
      ];
    }
    const code = job.status === "Cancelled" ? "Cancelled" : (job.failure?.code ?? "TrainingFailed");
    const reason = job.status === "Cancelled" ? "The training job was cancelled." : (job.failure?.message ?? job.details ?? "training failed");
    return [
      createEvent(
        EventTypes.TrainingFailed,
        { ...base, jobId: job.id, code, reason, ...(job.failure?.location !== undefined ? { location: job.failure.location } : {}) },
        options,
      ),
    ];
  }
}

/** The finite numeric metrics (an AUC is NaN when the holdout has one class: it is left out, not sent). */
function numericMetrics(evaluated: object): Metrics {
  const out: Metrics = {};
  for (const [name, value] of Object.entries(evaluated)) {
    if (typeof value === "number" && Number.isFinite(value)) out[name] = value;
  }
  return out;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Passes a stream through while hashing every byte (the dataset's lineage hash, computed once while reading). */
function hashing(input: Readable, hash: ReturnType<typeof createHash>): Readable {
  const through = new PassThrough();
  input.on("data", (chunk: Buffer) => hash.update(chunk));
  // pipeline, not pipe: a reader that stops early (a refused CSV) destroys `through` and with it the
  // input, so a store blob's file handle is closed rather than left to the garbage collector; an input
  // error reaches the reader through `through`.
  pipeline(input, through, () => undefined);
  return through;
}
