import { z } from "zod";
import { BlobRef, EndpointTarget, Metrics, ModelRef, RunPlan, RunTrigger, LearnerName } from "./values.js";

/** Event type names. The version is part of the name; a breaking change is a new type. */
export const EventTypes = {
  DataArrived: "retrain.data.arrived.v1",
  TrainingFailed: "retrain.training.failed.v1",
  ModelTrained: "retrain.model.trained.v1",
  ModelApproved: "retrain.model.approved.v1",
  ModelRejected: "retrain.model.rejected.v1",
  ModelAwaitingApproval: "retrain.model.awaiting-approval.v1",
  EndpointUpdated: "retrain.endpoint.updated.v1",
  PromotionFailed: "retrain.promotion.failed.v1",
  BatchJobQueued: "retrain.batch-job.queued.v1",
  DatasetAvailable: "retrain.dataset.available.v1",
  RunCancelled: "retrain.run.cancelled.v1",
  RunRedriveRequested: "retrain.run.redrive-requested.v1",
} as const;
/** One of the catalog's event type names. */
export type EventType = (typeof EventTypes)[keyof typeof EventTypes];

const RunFields = {
  /** The run (ULID). */
  runId: z.string().min(1).max(64),
  pipeline: z.string().min(1).max(128),
  /** The pipeline's run sequence: orders runs of one pipeline. */
  runSequence: z.number().int().nonnegative(),
};

/** New data for a pipeline: starts a run. Emitted by ingestion (upload, upstream event, Event Grid, schedule). */
export const DataArrived = z.object({
  ...RunFields,
  trigger: RunTrigger,
  dataset: BlobRef,
  plan: RunPlan,
});
export type DataArrived = z.infer<typeof DataArrived>;

/** The training job of a run failed; the run ends. Emitted by the trainer. */
export const TrainingFailed = z.object({
  ...RunFields,
  jobId: z.string().optional(),
  /** Machine-readable code, e.g. `CsvRaggedRow`, `BlobNotFound`. */
  code: z.string().min(1),
  reason: z.string(),
  /** Where in the input, when known (e.g. `line 17`). */
  location: z.string().optional(),
});
export type TrainingFailed = z.infer<typeof TrainingFailed>;

/** Lineage of a trained model. */
export const TrainingLineage = z.object({
  datasetSha256: z.string(),
  rows: z.number().int().nonnegative(),
  trainingRows: z.number().int().nonnegative(),
  holdoutRows: z.number().int().nonnegative(),
  learner: LearnerName,
  seed: z.number().int(),
  /** Time spent reading, fitting and evaluating, as the trainer measured it. */
  durationMs: z.number().nonnegative(),
});
export type TrainingLineage = z.infer<typeof TrainingLineage>;

/** A run's challenger model is trained and evaluated on its holdout rows. Emitted by the trainer. */
export const ModelTrained = z.object({
  ...RunFields,
  plan: RunPlan,
  jobId: z.string().min(1),
  model: ModelRef,
  /** Evaluate Model output (CSV). */
  evaluation: BlobRef,
  /** The holdout rows (CSV) both challenger and champion are scored on. */
  holdout: BlobRef,
  metrics: Metrics,
  lineage: TrainingLineage,
});
export type ModelTrained = z.infer<typeof ModelTrained>;

/** A champion's metrics on the same holdout, per target. */
export const ChampionMetrics = z.object({
  target: z.string(),
  modelId: z.string().optional(),
  metrics: Metrics,
});
export type ChampionMetrics = z.infer<typeof ChampionMetrics>;

const Judgement = {
  plan: RunPlan,
  model: ModelRef,
  challenger: Metrics,
  champions: z.array(ChampionMetrics),
  /** Why, in words a person reads. */
  reason: z.string(),
};

/** The challenger may be promoted to the run's targets. Emitted by the evaluator (or the registry for a rollback). */
export const ModelApproved = z.object({
  ...RunFields,
  ...Judgement,
  /** `rollback` re-promotes an older model explicitly. */
  kind: z.enum(["evaluation", "manual", "rollback"]),
  approvedBy: z.string().optional(),
});
export type ModelApproved = z.infer<typeof ModelApproved>;

/** The challenger is not promoted; the run ends. Emitted by the evaluator. */
export const ModelRejected = z.object({
  ...RunFields,
  ...Judgement,
  rejectedBy: z.string().optional(),
});
export type ModelRejected = z.infer<typeof ModelRejected>;

/** The policy asks a person to decide. Emitted by the evaluator; followed by approval or rejection. */
export const ModelAwaitingApproval = z.object({
  ...RunFields,
  ...Judgement,
});
export type ModelAwaitingApproval = z.infer<typeof ModelAwaitingApproval>;

/** A model identity as served by a target. */
export const ServedModel = z.object({
  modelId: z.string(),
  runId: z.string().optional(),
  runSequence: z.number().int().nonnegative().optional(),
});
export type ServedModel = z.infer<typeof ServedModel>;

/** A target now serves the run's model. Emitted by a promoter once verified. */
export const EndpointUpdated = z.object({
  ...RunFields,
  target: EndpointTarget,
  model: ModelRef,
  previousModel: ServedModel.optional(),
  /** The target's revision after the change (increases by one per model change). */
  revision: z.number().int().positive(),
  kind: z.enum(["promotion", "rollback"]),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type EndpointUpdated = z.infer<typeof EndpointUpdated>;

/** A target could not be updated (or was superseded by a newer run); it keeps its model. Emitted by a promoter. */
export const PromotionFailed = z.object({
  ...RunFields,
  target: EndpointTarget,
  model: ModelRef,
  /** E.g. `Superseded`, `ModelIncompatible`, `EndpointNotFound`, `DefaultEndpointRefused`. */
  code: z.string().min(1),
  reason: z.string(),
});
export type PromotionFailed = z.infer<typeof PromotionFailed>;

/**
 * A command, not a fact of a run: a Batch Execution Service job was started and waits for a worker.
 * Replicas of the owning service consume it as competing consumers, so a crashed replica's job is
 * redelivered to another. Only the owner (`host`) subscribes to it.
 */
export const BatchJobQueued = z.object({
  jobId: z.string().min(1).max(64),
  /** The service that owns and runs the job. */
  host: z.enum(["trainer", "scoring"]),
  workspace: z.string().min(1).max(128),
  service: z.string().min(1).max(128),
  /** Set when the job belongs to a run (started by DataArrived). */
  runId: z.string().min(1).max(64).optional(),
});
export type BatchJobQueued = z.infer<typeof BatchJobQueued>;

/** Where an upstream system's dataset is: an https URL on an allow-listed host, or a blob of Retrain's own store. */
export const DatasetLocation = z.union([
  z.object({ url: z.url({ protocol: /^https?$/ }).max(4096) }).strict(),
  z.object({ blobName: z.string().min(1).max(1024) }).strict(),
]);
export type DatasetLocation = z.infer<typeof DatasetLocation>;

/**
 * Upstream-facing: a new dataset for a pipeline is available. Posted by an upstream system to
 * ingestion's `POST /v1/events` (CloudEvents HTTP binding); ingestion copies the dataset into its
 * store and starts a run (one DataArrived), deduped by content. Carries no run: it asks for one.
 */
export const DatasetAvailable = z.object({
  pipeline: z.string().min(1).max(128),
  dataset: DatasetLocation,
  /** Hex SHA-256 of the content when the sender knows it: checked after the copy, and lets a known dataset skip the download. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Who or what produced the dataset (recorded as the run trigger's `by`). */
  by: z.string().max(256).optional(),
});
export type DatasetAvailable = z.infer<typeof DatasetAvailable>;

/**
 * A person cancelled a run; the run is terminal. Emitted by ingestion (the owner of runs). The trainer
 * cancels the run's job, the evaluator decides nothing more and the promoters promote nothing for it.
 */
export const RunCancelled = z.object({
  ...RunFields,
  /** The run's frozen plan (the trainer finds the run's training web service, hence its job, from it). */
  plan: RunPlan,
  /** Who cancelled (a key name). */
  cancelledBy: z.string().max(256).optional(),
  reason: z.string().max(2000).optional(),
});
export type RunCancelled = z.infer<typeof RunCancelled>;

/** The stages of a run the reconciler re-drives: each waits for one owner's outcome. */
export const RedriveStage = z.enum(["training", "evaluation", "promotion"]);
export type RedriveStage = z.infer<typeof RedriveStage>;

/**
 * A command, not a fact of a run: the registry's reconciler found the run past its stage deadline and
 * asks the services of that stage to re-publish what they have for it, with the same event ids (so
 * nothing doubles): the owner of the stage's input re-publishes it (a consumer that missed it gets it
 * again) and the owner of its outcome re-publishes that (the registry learns it).
 * `training`: ingestion (DataArrived) and the trainer; `evaluation`: the trainer (ModelTrained) and
 * the evaluator; `promotion`: the evaluator or the registry (ModelApproved) and the promoters.
 */
export const RunRedriveRequested = z.object({
  runId: z.string().min(1).max(64),
  pipeline: z.string().min(1).max(128).optional(),
  stage: RedriveStage,
  /** 1 for the first request of this stage; the registry reports the run stuck after its last. */
  attempt: z.number().int().positive(),
});
export type RunRedriveRequested = z.infer<typeof RunRedriveRequested>;
