export {
  BlobRef,
  LearnerName,
  TaskKind,
  ModelRef,
  Metrics,
  PrimaryMetric,
  LOWER_IS_BETTER,
  ClassicEndpointTarget,
  NewWebServiceTarget,
  EndpointTarget,
  targetKey,
  EvaluationPolicy,
  TrainingServiceRef,
  RunPlan,
  RunTrigger,
} from "./values.js";
export {
  EventTypes,
  DataArrived,
  TrainingFailed,
  TrainingLineage,
  ModelTrained,
  ChampionMetrics,
  ModelApproved,
  ModelRejected,
  ModelAwaitingApproval,
  ServedModel,
  EndpointUpdated,
  PromotionFailed,
  BatchJobQueued,
  DatasetLocation,
  DatasetAvailable,
  RunCancelled,
  RedriveStage,
  RunRedriveRequested,
} from "./events.js";
export type { EventType } from "./events.js";
export { catalog, eventTypes, isEventType, exampleData, runEventTypes } from "./catalog.js";
export type { Catalog, CatalogEntry, EventData } from "./catalog.js";
export {
  CloudEventEnvelope,
  MAX_EVENT_BYTES,
  createEvent,
  parseEvent,
  decodeEvent,
  encodeEvent,
  isValidatedEvent,
  withTraceContext,
} from "./envelope.js";
export type { CloudEvent, AnyEvent, CreateEventOptions } from "./envelope.js";
export { EventValidationError } from "./errors.js";
export type { EventValidationCode } from "./errors.js";
export { deterministicEventId, randomEventId, ulid } from "./ids.js";
export { buildAsyncApiDocument, renderAsyncApiYaml } from "./asyncapi.js";
export type { AsyncApiOptions } from "./asyncapi.js";
export { renderEventsMarkdown, preservedSection, documentedEvents, undocumentedFields, EVENTS_DOC_MARKERS, FIELD_MEANINGS } from "./events-doc.js";
export type { EventsDocOptions, EventField, DocumentedEvent } from "./events-doc.js";
