import type { z } from "zod";
import {
  BatchJobQueued,
  DataArrived,
  DatasetAvailable,
  EndpointUpdated,
  EventTypes,
  ModelApproved,
  ModelAwaitingApproval,
  ModelRejected,
  ModelTrained,
  PromotionFailed,
  RunCancelled,
  RunRedriveRequested,
  TrainingFailed,
  type EventType,
} from "./events.js";
import { examples } from "./examples.js";

/** Which service emits and which consume an event type, and when. Feeds the AsyncAPI document and the docs. */
export interface CatalogEntry<S extends z.ZodType = z.ZodType> {
  readonly type: EventType;
  /** The event's name in prose and in TypeScript (`DataArrived`). */
  readonly name: keyof typeof EventTypes;
  readonly schema: S;
  /** When it is emitted. */
  readonly summary: string;
  readonly producedBy: readonly string[];
  readonly consumedBy: readonly string[];
  /** Whether the event id includes the target (one event per run and target). */
  readonly perTarget: boolean;
}

function entry<N extends keyof typeof EventTypes, S extends z.ZodType>(
  name: N,
  schema: S,
  summary: string,
  producedBy: string[],
  consumedBy: string[],
  perTarget = false,
): CatalogEntry<S> & { readonly type: (typeof EventTypes)[N] } {
  return { type: EventTypes[name], name, schema, summary, producedBy, consumedBy, perTarget };
}

/** The event catalog: every event type with its data schema. Types the bus's handler map. */
export const catalog = {
  [EventTypes.DataArrived]: entry(
    "DataArrived",
    DataArrived,
    "New data for a pipeline was accepted (upload, upstream CloudEvent, Event Grid BlobCreated, schedule tick or re-run). Starts a run.",
    ["ingestion"],
    ["trainer", "registry"],
  ),
  [EventTypes.TrainingFailed]: entry(
    "TrainingFailed",
    TrainingFailed,
    "The run's training job failed (bad data, cancelled, learner error). The run ends.",
    ["trainer"],
    ["registry"],
  ),
  [EventTypes.ModelTrained]: entry(
    "ModelTrained",
    ModelTrained,
    "The run's model is trained and scored on its holdout rows.",
    ["trainer"],
    ["evaluator", "registry"],
  ),
  [EventTypes.ModelApproved]: entry(
    "ModelApproved",
    ModelApproved,
    "The model may be promoted to the run's targets (by policy, by a person, or as an explicit rollback).",
    ["evaluator", "registry"],
    ["classic-promoter", "new-promoter", "registry"],
  ),
  [EventTypes.ModelRejected]: entry(
    "ModelRejected",
    ModelRejected,
    "The model is not promoted (below threshold, not better than the champion, or rejected by a person). The run ends.",
    ["evaluator"],
    ["registry"],
  ),
  [EventTypes.ModelAwaitingApproval]: entry(
    "ModelAwaitingApproval",
    ModelAwaitingApproval,
    "The pipeline's policy asks a person to approve or reject the model.",
    ["evaluator"],
    ["registry"],
  ),
  [EventTypes.EndpointUpdated]: entry(
    "EndpointUpdated",
    EndpointUpdated,
    "A target serves the run's model (verified by GET and a smoke call). One per run and target.",
    ["classic-promoter", "new-promoter"],
    ["registry"],
    true,
  ),
  [EventTypes.PromotionFailed]: entry(
    "PromotionFailed",
    PromotionFailed,
    "A target could not be updated, or a newer run already updated it (Superseded); it keeps serving its model. One per run and target.",
    ["classic-promoter", "new-promoter"],
    ["registry"],
    true,
  ),
  [EventTypes.BatchJobQueued]: entry(
    "BatchJobQueued",
    BatchJobQueued,
    "A Batch Execution Service job was started (over the BES API or for a run) and waits for a worker of its host. An internal command: only the owning service consumes it.",
    ["trainer", "scoring"],
    ["trainer", "scoring"],
  ),
  [EventTypes.DatasetAvailable]: entry(
    "DatasetAvailable",
    DatasetAvailable,
    "Upstream-facing: a new dataset for a pipeline is available (a URL on an allowed host, or a blob of the store). Posted to ingestion's POST /v1/events; ingestion copies it in and starts a run unless the same content already did (among the pipeline's last 1000 runs).",
    ["upstream"],
    ["ingestion"],
  ),
  [EventTypes.RunCancelled]: entry(
    "RunCancelled",
    RunCancelled,
    "A person cancelled the run; it is terminal. The trainer cancels its job, the evaluator and the promoters act on it no more.",
    ["ingestion"],
    ["trainer", "evaluator", "classic-promoter", "new-promoter", "registry"],
  ),
  [EventTypes.RunRedriveRequested]: entry(
    "RunRedriveRequested",
    RunRedriveRequested,
    "An internal command of the registry's reconciler: a run is past its stage deadline; the services of that stage re-publish the run's events they own, with the same ids.",
    ["registry"],
    ["ingestion", "trainer", "evaluator", "classic-promoter", "new-promoter"],
  ),
} as const;

/** The catalog as a type: event type → entry. */
export type Catalog = typeof catalog;
/** The data payload of an event type. */
export type EventData<T extends EventType> = z.infer<Catalog[T]["schema"]>;

/** Every event type name, in catalog order. */
export const eventTypes: readonly EventType[] = Object.values(EventTypes);

/**
 * The facts of a run — what the registry records and teams may subscribe to. Not the commands between
 * services (BatchJobQueued, RunRedriveRequested) nor upstream requests (DatasetAvailable): a type added
 * to the catalog is not a run fact until it is listed here, so nothing internal leaks by default.
 */
export const runEventTypes = [
  EventTypes.DataArrived,
  EventTypes.TrainingFailed,
  EventTypes.ModelTrained,
  EventTypes.ModelApproved,
  EventTypes.ModelRejected,
  EventTypes.ModelAwaitingApproval,
  EventTypes.EndpointUpdated,
  EventTypes.PromotionFailed,
  EventTypes.RunCancelled,
] as const satisfies readonly EventType[];

/** True when `type` names a catalog event. */
export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(catalog, type);
}

/** An example payload for each event type (valid against its schema; used by docs and tests). */
export function exampleData<T extends EventType>(type: T): EventData<T> {
  return examples[type] as EventData<T>;
}
