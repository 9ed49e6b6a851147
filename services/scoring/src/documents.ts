// The scoring host's persisted documents (JSON blobs under its own prefix, changed by compare-and-set).
import { z } from "zod";
import { SealedSecret } from "./key-vault.js";
import { InputColumn } from "./model-runtime.js";

/** Why a target's model changed. */
export const ChangeReason = z.enum(["publish", "create", "promotion", "rollback", "refresh", "update"]);
export type ChangeReason = z.infer<typeof ChangeReason>;

/** The run a model came from, as far as the caller said. */
export const RunIdentity = z.object({
  runId: z.string().min(1).max(128).optional(),
  runSequence: z.number().int().nonnegative().optional(),
  pipeline: z.string().min(1).max(128).optional(),
});
export type RunIdentity = z.infer<typeof RunIdentity>;

/** The model a target serves: its own copy in the store, its identity, and the revision it became. */
export const ServedModelState = z.object({
  /** Increases by one with every model change of the target. */
  revision: z.number().int().positive(),
  modelId: z.string().min(1),
  /** SHA-256 of the .ilearner bytes (the own copy is `scoring/models/<sha256>.ilearner`). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  blob: z.string(),
  size: z.number().int().nonnegative(),
  learner: z.string(),
  task: z.enum(["binary", "regression"]),
  runId: z.string().optional(),
  runSequence: z.number().int().nonnegative().optional(),
  pipeline: z.string().optional(),
  reason: ChangeReason,
  /** When the target locked onto this model (the classic `Version`). */
  since: z.string(),
  /** Where it was fetched from, without any SAS token (ARM's asset uri is compared against it). */
  source: z.string().optional(),
});
export type ServedModelState = z.infer<typeof ServedModelState>;

/** A model as named in the audit log. */
export const ModelSummary = z.object({
  modelId: z.string(),
  sha256: z.string(),
  revision: z.number().int().positive(),
  runId: z.string().optional(),
  runSequence: z.number().int().nonnegative().optional(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

/** One model change of a target: what it served before and after, why, for which run, who asked, when. */
export const AuditEntry = z.object({
  target: z.string(),
  targetId: z.string(),
  revision: z.number().int().positive(),
  from: ModelSummary.nullable(),
  to: ModelSummary,
  run: RunIdentity.optional(),
  reason: ChangeReason,
  caller: z.string(),
  time: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** ARM provisioning states of the 2017-01-01 API. */
export const ProvisioningState = z.enum(["Unknown", "Provisioning", "Succeeded", "Failed"]);
export type ProvisioningState = z.infer<typeof ProvisioningState>;

/** A JSON object (ARM definitions are kept as given, canonicalized, secrets removed). */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;

/** An ARM PUT/PATCH being applied: the definition it will commit and the operation that reports it. */
export const PendingArmUpdate = z.object({
  operationId: z.string(),
  properties: JsonObject,
  location: z.string(),
  tags: z.record(z.string(), z.string()),
  /** After this, the update is abandoned (its process died): reads treat it as failed. */
  deadline: z.string(),
  startedAt: z.string(),
  /** New keys / storage key, applied with the definition. */
  keys: z.object({ primary: SealedSecret, secondary: SealedSecret }).optional(),
  storageKey: SealedSecret.optional(),
});
export type PendingArmUpdate = z.infer<typeof PendingArmUpdate>;

/** What only a new (ARM) web service has. */
export const ArmState = z.object({
  subscription: z.string(),
  resourceGroup: z.string(),
  name: z.string(),
  location: z.string(),
  tags: z.record(z.string(), z.string()),
  /** `properties` as last committed, canonicalized, without keys and storage key. */
  properties: JsonObject,
  storageKey: SealedSecret.optional(),
  provisioningState: ProvisioningState,
  createdOn: z.string(),
  modifiedOn: z.string(),
  pending: PendingArmUpdate.optional(),
});
export type ArmState = z.infer<typeof ArmState>;

/** What only a classic endpoint has. */
export const ClassicState = z.object({
  webServiceId: z.string(),
  endpointName: z.string(),
  isDefault: z.boolean(),
});
export type ClassicState = z.infer<typeof ClassicState>;

/**
 * A target: a classic endpoint or a new web service — everything a host needs to serve it (keys,
 * limits, input schema, the served model) in one document, so syncing a replica is one read.
 * `outbox` holds audit entries written in the same compare-and-set as the change, relayed after.
 */
export const TargetDoc = z.object({
  version: z.literal(1),
  /** The GUID of the execution URL (`…/services/<id>`). */
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: z.enum(["classic", "new"]),
  /** The workspace whose keys may manage it. */
  workspace: z.string(),
  classic: ClassicState.optional(),
  arm: ArmState.optional(),
  createdAt: z.string(),
  description: z.string(),
  throttleLevel: z.enum(["Low", "High"]),
  maxConcurrentCalls: z.number().int().min(1).max(200),
  diagnosticsTraceLevel: z.enum(["None", "Error", "All"]),
  keys: z.object({ primary: SealedSecret, secondary: SealedSecret }),
  resourceName: z.string(),
  inputSchema: z.array(InputColumn),
  training: z.boolean(),
  model: ServedModelState.optional(),
  /** Highest run sequence ever served, per pipeline ("" for none): stale updates are refused against it. */
  sequences: z.record(z.string(), z.number().int().nonnegative()),
  /** Run ids of the rollbacks this target applied (the latest 100): the same rollback again is refused. */
  rollbacks: z.array(z.string()).optional(),
  outbox: z.array(AuditEntry),
  /** Bumped by every write, so a replica never applies an older read over a newer one. */
  generation: z.number().int().nonnegative(),
});
export type TargetDoc = z.infer<typeof TargetDoc>;

/** Parses a stored target (for readJson/updateJson). */
export function parseTarget(value: unknown): TargetDoc {
  return TargetDoc.parse(value);
}

/** A classic web service; its endpoints are targets under its own prefix. */
export const WebServiceDoc = z.object({
  version: z.literal(1),
  id: z.string(),
  workspace: z.string(),
  name: z.string(),
  description: z.string(),
  createdAt: z.string(),
  /** A training web service: it has no updatable resources and does not answer RRS. */
  training: z.boolean(),
  resourceName: z.string(),
  inputSchema: z.array(InputColumn),
  defaultEndpointName: z.string(),
});
export type WebServiceDoc = z.infer<typeof WebServiceDoc>;

/** Parses a stored web service. */
export function parseWebService(value: unknown): WebServiceDoc {
  return WebServiceDoc.parse(value);
}

/** Status values of an ARM async operation. */
export const OperationStatus = z.enum(["InProgress", "Succeeded", "Failed", "Canceled"]);
export type OperationStatus = z.infer<typeof OperationStatus>;

/** An ARM async operation, readable at its Azure-AsyncOperation URL for as long as it is kept. */
export const OperationDoc = z.object({
  version: z.literal(1),
  id: z.string(),
  subscription: z.string(),
  location: z.string(),
  /** Blob name of the target it changes. */
  target: z.string(),
  status: OperationStatus,
  startTime: z.string(),
  endTime: z.string().optional(),
  deadline: z.string(),
  percentComplete: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type OperationDoc = z.infer<typeof OperationDoc>;

/** Parses a stored operation. */
export function parseOperation(value: unknown): OperationDoc {
  return OperationDoc.parse(value);
}
