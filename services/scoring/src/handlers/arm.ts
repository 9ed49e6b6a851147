// New (ARM) web services: Microsoft.MachineLearning/webServices, api-version 2017-01-01, with the
// ARM async pattern (Azure-AsyncOperation), so Azure's generated clients work unchanged.
import { randomUUID } from "node:crypto";
import type { Request, Response, Router } from "express";
import { locationAllowed, locationFromUri, type DataLocation } from "@retrain/bes";
import { withSpan } from "@retrain/telemetry";
import { assertAdmin, authenticateBearer, hasRequestBody, HttpError, readJsonBody, sendJson, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { JsonObject, OperationDoc, PendingArmUpdate, RunIdentity, TargetDoc } from "../documents.js";
import { armError } from "../errors.js";
import { ModelRejectedError, type PreparedModel, type ScoringHost } from "../host.js";
import type { InputColumn } from "../model-runtime.js";
import { redactedSource } from "../model-source.js";
import { planModelChange, type ModelChange } from "../model-updates.js";
import {
  ARM_API_VERSIONS,
  armInputSchema,
  armResourceJson,
  canonicalResource,
  inputColumnsFromArm,
  mergePatch,
  splitSecrets,
  trainedModelAsset,
} from "../wire/arm.js";
import { changeReason, optionalParam, param, runHeaders, type RunHeaders } from "./common.js";

/** What the ARM routes need. */
export interface ArmRoutesDeps {
  readonly host: ScoringHost;
  /** Bearer tokens accepted in place of Azure AD tokens: the deployment's admin and workspace keys. */
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** How long an update may run before it is treated as abandoned (its process died). */
  readonly operationTimeoutMs: number;
  /** Resources per page of a list. */
  readonly pageSize: number;
}

/** The ARM part of the scoring host: routes plus the background updates they start. */
export interface ArmApi {
  register(router: Router): void;
  /** Waits for updates running in this process (bounded by their own timeouts). */
  drain(): Promise<void>;
}

const PROVIDER = "providers/Microsoft.MachineLearning";
const RESOURCE = `/subscriptions/:subscription/resourceGroups/:resourceGroup/${PROVIDER}/webServices/:name`;
const SUBSCRIPTION = /^[A-Za-z0-9-]{1,64}$/;
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const MIN_CONCURRENCY = 4;
const MAX_CONCURRENCY = 200;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The region segment of operation URLs (`South Central US` → `southcentralus`). */
function regionSegment(location: string): string {
  return location.toLowerCase().replace(/[^a-z0-9]/g, "") || "global";
}

function canAccess(principal: Principal, workspace: string): boolean {
  return principal.workspace === "*" || principal.workspace === workspace;
}

/** The update a document is in the middle of, unless it was abandoned (past its deadline). */
export function livePending(doc: TargetDoc, now = Date.now()): PendingArmUpdate | undefined {
  const pending = doc.arm?.pending;
  return pending !== undefined && Date.parse(pending.deadline) > now ? pending : undefined;
}

/** What GET shows: the update being applied (Provisioning), or the committed definition. */
function view(doc: TargetDoc): { properties: JsonObject; location: string; tags: Record<string, string>; provisioningState: string } {
  const arm = doc.arm;
  if (arm === undefined) throw new Error(`target ${doc.id} is not a new web service`);
  const pending = livePending(doc);
  if (pending !== undefined) return { properties: pending.properties, location: pending.location, tags: pending.tags, provisioningState: "Provisioning" };
  const abandoned = arm.pending !== undefined;
  return { properties: arm.properties, location: arm.location, tags: arm.tags, provisioningState: abandoned ? "Failed" : arm.provisioningState };
}

function operationBody(op: OperationDoc): Record<string, unknown> {
  const expired = op.status === "InProgress" && Date.parse(op.deadline) <= Date.now();
  const status = expired ? "Failed" : op.status;
  const error = expired ? { code: "OperationTimedOut", message: "The operation did not finish in time (its host stopped); the web service keeps its previous definition." } : op.error;
  return {
    id: `/subscriptions/${op.subscription}/${PROVIDER}/locations/${op.location}/operationsStatus/${op.id}`,
    name: op.id,
    status,
    provisioningState: status === "InProgress" ? "Provisioning" : status === "Succeeded" ? "Succeeded" : "Failed",
    startTime: op.startTime,
    ...(op.endTime !== undefined || expired ? { endTime: op.endTime ?? op.deadline } : {}),
    percentComplete: status === "Succeeded" ? 100 : op.percentComplete,
    ...(error !== undefined ? { error, errorInfo: { code: error.code, message: error.message } } : {}),
  };
}

/** Tags as ARM keeps them: string values only. */
function tagsOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw armError("InvalidRequestContent", "'tags' must be an object of strings.");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw armError("InvalidRequestContent", `tag '${k}' must be a string.`);
    out[k] = v;
  }
  return out;
}

function concurrencyOf(properties: JsonObject, fallback: number): number {
  const realtime = properties["realtimeConfiguration"];
  const value = isRecord(realtime) ? realtime["maxConcurrentCalls"] : undefined;
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_CONCURRENCY || value > MAX_CONCURRENCY) {
    throw armError("InvalidRequestContent", `properties.realtimeConfiguration.maxConcurrentCalls must be an integer from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}.`);
  }
  return value;
}

/** A definition checked for what this host needs: a location, properties, and the trained-model asset. */
interface CheckedDefinition {
  readonly location: string;
  readonly tags: Record<string, string>;
  readonly properties: JsonObject;
  readonly keys?: { primary?: string; secondary?: string };
  readonly storageKey?: string;
  readonly asset: { name: string; uri: string };
  readonly maxConcurrentCalls: number;
  readonly inputSchema: InputColumn[] | undefined;
}

function checkDefinition(resource: Record<string, unknown>, fallbackConcurrency: number): CheckedDefinition {
  const location = resource["location"];
  if (typeof location !== "string" || location.trim() === "") throw armError("InvalidRequestContent", "The web service needs a 'location'.");
  const raw = resource["properties"];
  if (!isRecord(raw)) throw armError("InvalidRequestContent", "The web service needs 'properties'.");
  const packageType = raw["packageType"];
  if (packageType !== undefined && packageType !== null && packageType !== "Graph") {
    throw armError("InvalidRequestContent", `properties.packageType must be 'Graph'; got '${String(packageType)}'.`);
  }
  const split = splitSecrets(raw);
  const asset = trainedModelAsset(split.properties);
  if (asset === undefined || asset.uri === undefined || asset.uri.trim() === "") {
    throw armError("InvalidRequestContent", "properties.assets must hold a Resource asset whose name ends in '[trained model]', with locationInfo.uri.");
  }
  return {
    location,
    tags: tagsOf(resource["tags"]),
    properties: { ...split.properties, packageType: "Graph" },
    ...(split.keys !== undefined ? { keys: split.keys } : {}),
    ...(split.storageKey !== undefined ? { storageKey: split.storageKey } : {}),
    asset: { name: asset.name, uri: asset.uri },
    maxConcurrentCalls: concurrencyOf(split.properties, fallbackConcurrency),
    inputSchema: inputColumnsFromArm(split.properties["input"]),
  };
}

/** False only for a well-formed URL whose host is not allowed; anything else is left to the load to judge. */
function assetUriAllowed(uri: string, host: ScoringHost): boolean {
  let location: DataLocation;
  try {
    location = locationFromUri(uri, "asset uri");
  } catch {
    return true;
  }
  return locationAllowed(location, host.options.locations);
}

/** Creates the ARM API (routes and background updates). */
export function createArmApi(deps: ArmRoutesDeps): ArmApi {
  const { host } = deps;
  const docs = host.docs;
  const running = new Set<Promise<void>>();

  const scope = async (req: Request): Promise<{ principal: Principal; subscription: string; resourceGroup: string; name: string; apiVersion: string }> => {
    let principal: Principal;
    try {
      principal = await authenticateBearer(req.headers.authorization, deps.verifyKey);
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) throw armError("InvalidAuthenticationToken", "The access token is missing or invalid.");
      throw error;
    }
    const apiVersion = checkApiVersion(req);
    const subscription = param(req, "subscription");
    if (!SUBSCRIPTION.test(subscription)) throw armError("InvalidResourceName", `'${subscription}' is not a valid subscription id.`);
    const resourceGroup = optionalParam(req, "resourceGroup");
    if (resourceGroup !== "" && !RESOURCE_GROUP.test(resourceGroup)) throw armError("InvalidResourceName", `'${resourceGroup}' is not a valid resource group name.`);
    const name = optionalParam(req, "name");
    if (name !== "" && !SERVICE_NAME.test(name)) throw armError("InvalidResourceName", `'${name}' is not a valid web service name.`);
    return { principal, subscription, resourceGroup, name, apiVersion };
  };

  const notFound = (resourceGroup: string, name: string): HttpError =>
    armError("ResourceNotFound", `The Resource 'Microsoft.MachineLearning/webServices/${name}' under resource group '${resourceGroup}' was not found.`);

  const operationUrl = (subscription: string, location: string, id: string): string =>
    `${host.publicUrl}/subscriptions/${subscription}/${PROVIDER}/locations/${regionSegment(location)}/operationsStatus/${id}?api-version=${ARM_API_VERSIONS[0]}`;

  const newOperation = async (subscription: string, location: string, target: string, status: OperationDoc["status"]): Promise<OperationDoc> => {
    const now = new Date();
    const op: OperationDoc = {
      version: 1,
      id: randomUUID(),
      subscription,
      location: regionSegment(location),
      target,
      status,
      startTime: now.toISOString(),
      ...(status !== "InProgress" ? { endTime: now.toISOString() } : {}),
      deadline: new Date(now.getTime() + deps.operationTimeoutMs).toISOString(),
      percentComplete: status === "Succeeded" ? 100 : 0,
    };
    await docs.createOperation(op);
    return op;
  };

  const finishOperation = async (id: string, outcome: { error?: { code: string; message: string } }): Promise<void> => {
    await docs.updateOperation(id, (op) =>
      op.status !== "InProgress"
        ? undefined
        : {
            ...op,
            status: outcome.error === undefined ? "Succeeded" : "Failed",
            endTime: new Date().toISOString(),
            percentComplete: outcome.error === undefined ? 100 : op.percentComplete,
            ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          },
    );
  };

  /** The committed form of a pending update (model change applied separately). */
  const commit = (doc: TargetDoc, pending: PendingArmUpdate, inputSchema: InputColumn[]): TargetDoc => {
    const arm = doc.arm as NonNullable<TargetDoc["arm"]>;
    const properties = { ...pending.properties };
    if (properties["input"] === undefined && inputSchema.length > 0) properties["input"] = armInputSchema(inputSchema);
    const { pending: _done, ...rest } = arm;
    const asset = trainedModelAsset(properties);
    return {
      ...doc,
      ...(pending.keys !== undefined ? { keys: pending.keys } : {}),
      resourceName: asset?.name ?? doc.resourceName,
      inputSchema,
      maxConcurrentCalls: concurrencyOf(properties, doc.maxConcurrentCalls),
      arm: {
        ...rest,
        location: pending.location,
        tags: pending.tags,
        properties,
        ...(pending.storageKey !== undefined ? { storageKey: pending.storageKey } : {}),
        provisioningState: "Succeeded",
        modifiedOn: new Date().toISOString(),
      },
    };
  };

  /** Loads the model (when it changes) and commits the pending update; ends its operation either way. */
  const apply = async (
    blob: string,
    operationId: string,
    modelUri: string | undefined,
    given: RunHeaders,
    declaredSchema: InputColumn[] | undefined,
    caller: string,
    firstModel: boolean,
  ): Promise<void> => {
    let failure: { code: string; message: string } | undefined;
    try {
      let prepared: PreparedModel | undefined;
      if (modelUri !== undefined) prepared = await host.prepareModel({ kind: "uri", uri: modelUri }, declaredSchema);
      const change: ModelChange | undefined =
        prepared === undefined
          ? undefined
          : {
              candidate: { ...prepared.candidate, ...(given.modelId !== undefined ? { modelId: given.modelId } : {}) },
              ...(given.run !== undefined ? { run: given.run } : {}),
              // The model a new web service is created with is its publication, unless the caller names a reason.
              reason: firstModel && given.reason === undefined ? "publish" : changeReason(given),
              caller,
              now: new Date(),
            };
      let outcome: { kind: "gone" } | { kind: "committed" } | { kind: "stale"; highest: number; pipeline: string } = { kind: "gone" };
      const result = await docs.updateTarget(blob, (current) => {
        outcome = { kind: "gone" };
        const pending = current?.arm?.pending;
        if (current === undefined || pending === undefined || pending.operationId !== operationId) return undefined;
        const schema = declaredSchema ?? (prepared !== undefined && (current.model === undefined || current.inputSchema.length === 0) ? [...prepared.model.inputColumns] : current.inputSchema);
        const committed = commit(current, pending, schema);
        if (change === undefined) {
          outcome = { kind: "committed" };
          return committed;
        }
        const plan = planModelChange(committed, change);
        if (plan.outcome === "stale") {
          outcome = { kind: "stale", highest: plan.highest, pipeline: plan.pipeline };
          return failed(current);
        }
        outcome = { kind: "committed" };
        return plan.doc;
      });
      const decided = outcome as { kind: "gone" } | { kind: "committed" } | { kind: "stale"; highest: number; pipeline: string };
      if (decided.kind === "gone" || result.value === undefined) {
        failure = { code: "ResourceNotFound", message: "The web service was deleted or changed while the update ran." };
      } else {
        if (decided.kind === "stale") {
          failure = { code: "StaleModelUpdate", message: `Run sequence ${given.run?.runSequence ?? "?"} is older than ${decided.highest}, already served for pipeline '${decided.pipeline}'.` };
        }
        await host.install(blob, result.value, result.etag);
      }
    } catch (error) {
      failure =
        error instanceof ModelRejectedError || error instanceof HttpError
          ? { code: error instanceof ModelRejectedError ? error.code : error.code, message: error.message }
          : { code: "InternalError", message: "The update failed unexpectedly; the web service keeps its previous definition." };
      if (!(error instanceof ModelRejectedError)) host.logger.error({ err: error, blob }, "ARM update failed");
      const result = await docs
        .updateTarget(blob, (current) => (current?.arm?.pending?.operationId === operationId ? failed(current) : undefined))
        .catch((e: unknown) => {
          host.logger.error({ err: e, blob }, "recording a failed ARM update failed");
          return undefined;
        });
      if (result?.value !== undefined && result.changed) await host.install(blob, result.value, result.etag).catch(() => undefined);
    }
    // The target document is written first, so once the operation says Succeeded a GET shows the new definition.
    await finishOperation(operationId, failure === undefined ? {} : { error: failure });
  };

  /** The document after a failed update: previous definition and model, state Failed. */
  const failed = (doc: TargetDoc): TargetDoc => {
    const arm = doc.arm as NonNullable<TargetDoc["arm"]>;
    const { pending: _dropped, ...rest } = arm;
    return { ...doc, arm: { ...rest, provisioningState: "Failed" } };
  };

  const start = (task: Promise<void>): void => {
    const tracked = task.catch((error: unknown) => host.logger.error({ err: error }, "ARM update crashed"));
    running.add(tracked);
    void tracked.finally(() => running.delete(tracked));
  };

  /** PUT and PATCH share this: validate, record the pending update and its operation, start the work. */
  const update = async (req: Request, res: Response, mode: "put" | "patch"): Promise<void> => {
    const { principal, subscription, resourceGroup, name } = await scope(req);
    const blob = docs.armTargetBlob(subscription, resourceGroup, name);
    const existing = await docs.getTarget(blob);
    if (existing !== undefined && !canAccess(principal, existing.value.workspace)) throw notFound(resourceGroup, name);
    if (mode === "patch" && existing === undefined) throw notFound(resourceGroup, name);
    const body = canonicalResource(await armBody(req));
    const base = existing?.value.arm;
    const merged =
      mode === "put" || base === undefined
        ? body
        : (mergePatch({ location: base.location, tags: base.tags, properties: base.properties }, body) as Record<string, unknown>);
    const definition = checkDefinition(merged, existing?.value.maxConcurrentCalls ?? MIN_CONCURRENCY);
    const declaredWorkspace = isRecord(definition.properties["machineLearningWorkspace"]) ? definition.properties["machineLearningWorkspace"]["id"] : undefined;
    if (typeof declaredWorkspace === "string" && declaredWorkspace !== "" && !canAccess(principal, declaredWorkspace)) {
      throw armError("InvalidRequestContent", "properties.machineLearningWorkspace.id names a workspace this token cannot manage.");
    }
    const workspace = existing?.value.workspace ?? (typeof declaredWorkspace === "string" && declaredWorkspace !== "" ? declaredWorkspace : principal.workspace === "*" ? "" : principal.workspace);
    if (existing !== undefined && livePending(existing.value) !== undefined) {
      throw armError("AnotherOperationInProgress", `An update of web service '${name}' is in progress; wait for it to finish.`);
    }
    const given = runHeaders(req.headers);
    // A rollback skips the guard that keeps a web service from moving backwards: an admin decision.
    if (given.reason === "rollback") assertAdmin(principal, "roll a web service back");
    const current = existing?.value;
    const modelChanges = current?.model === undefined || current.model.source !== redactedSource({ kind: "uri", uri: definition.asset.uri });
    if (modelChanges && current !== undefined && given.reason !== "rollback" && given.run?.runSequence !== undefined) {
      const highest = current.sequences[given.run.pipeline ?? ""];
      if (highest !== undefined && given.run.runSequence < highest) {
        throw armError("StaleModelUpdate", `Run sequence ${given.run.runSequence} is older than ${highest}, already served for pipeline '${given.run.pipeline ?? ""}'.`);
      }
    }

    // The model loads after the answer: refuse a host outside the allow-list now, with a code (SSRF guard).
    if (modelChanges && !assetUriAllowed(definition.asset.uri, host)) {
      throw armError("LocationNotAllowed", "The trained model's asset uri points at a host that is not an allowed storage host.");
    }
    const id = current?.id ?? host.newId();
    const op = await newOperation(subscription, definition.location, blob, "InProgress");
    const now = new Date();
    const pending: PendingArmUpdate = {
      operationId: op.id,
      properties: definition.properties,
      location: definition.location,
      tags: definition.tags,
      deadline: op.deadline,
      startedAt: now.toISOString(),
      ...(definition.keys !== undefined && current !== undefined ? { keys: sealMerged(host, id, current, definition.keys) } : {}),
      ...(definition.storageKey !== undefined ? { storageKey: host.sealStorageKey(id, definition.storageKey) } : {}),
    };
    let written: TargetDoc | undefined;
    if (current === undefined) {
      const doc: TargetDoc = {
        version: 1,
        id,
        kind: "new",
        workspace,
        arm: {
          subscription,
          resourceGroup,
          name,
          location: definition.location,
          tags: definition.tags,
          properties: definition.properties,
          provisioningState: "Provisioning",
          createdOn: now.toISOString(),
          modifiedOn: now.toISOString(),
          pending,
        },
        createdAt: now.toISOString(),
        description: typeof definition.properties["description"] === "string" ? definition.properties["description"] : "",
        throttleLevel: "High",
        maxConcurrentCalls: definition.maxConcurrentCalls,
        diagnosticsTraceLevel: "None",
        keys: host.sealKeys(id, definition.keys ?? {}),
        resourceName: definition.asset.name,
        inputSchema: definition.inputSchema ?? [],
        training: false,
        sequences: {},
        outbox: [],
        generation: 0,
      };
      if (!(await docs.createTarget(blob, doc))) {
        await finishOperation(op.id, { error: { code: "AnotherOperationInProgress", message: "The web service was created concurrently." } });
        throw armError("AnotherOperationInProgress", `Web service '${name}' is being created by another request.`);
      }
      written = doc;
    } else {
      let conflict = false;
      const result = await docs.updateTarget(blob, (doc) => {
        conflict = false;
        if (doc === undefined || doc.arm === undefined) return undefined;
        if (livePending(doc) !== undefined) {
          conflict = true;
          return undefined;
        }
        return { ...doc, arm: { ...doc.arm, pending } };
      });
      if (conflict || result.value === undefined) {
        await finishOperation(op.id, { error: { code: "AnotherOperationInProgress", message: "Another update started first." } });
        if (result.value === undefined) throw notFound(resourceGroup, name);
        throw armError("AnotherOperationInProgress", `An update of web service '${name}' is in progress; wait for it to finish.`);
      }
      written = result.value;
    }

    // The update outlives the request: its own span (a child of the request's) shows when it really ended.
    const task = withSpan(
      `arm update ${name}`,
      { attributes: { "retrain.operation_id": op.id, ...(given.run?.runId !== undefined ? { "retrain.run_id": given.run.runId } : {}) } },
      () => apply(blob, op.id, modelChanges ? definition.asset.uri : undefined, given, definition.inputSchema, principal.name, current?.model === undefined),
    );
    if (!modelChanges) {
      // Nothing to load: the update finishes within the request, so answer its final state.
      await task;
      written = (await docs.getTarget(blob))?.value ?? written;
    } else {
      start(task);
    }
    res.setHeader("Azure-AsyncOperation", operationUrl(subscription, definition.location, op.id));
    sendJson(res, mode === "put" && existing === undefined ? 201 : 200, armResourceJson(written, host.publicUrl, view(written)));
  };

  const list = async (req: Request, res: Response): Promise<void> => {
    const { principal, subscription, resourceGroup, apiVersion } = await scope(req);
    const prefix = docs.armTargetsPrefix(subscription, resourceGroup === "" ? undefined : resourceGroup);
    const token = typeof req.query["$skiptoken"] === "string" ? Buffer.from(req.query["$skiptoken"], "base64url").toString("utf8") : "";
    const blobs = (await docs.listTargetBlobs(prefix)).map((b) => b.name).filter((n) => n > token);
    const value: unknown[] = [];
    let last: string | undefined;
    let more = false;
    for (const blob of blobs) {
      if (value.length >= deps.pageSize) {
        more = true;
        break;
      }
      const found = await docs.getTarget(blob);
      last = blob;
      if (found === undefined || found.value.arm === undefined || !canAccess(principal, found.value.workspace)) continue;
      value.push(armResourceJson(found.value, host.publicUrl, view(found.value)));
    }
    const path = resourceGroup === "" ? `/subscriptions/${subscription}/${PROVIDER}/webServices` : `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/${PROVIDER}/webServices`;
    const nextLink =
      more && last !== undefined ? `${host.publicUrl}${path}?api-version=${encodeURIComponent(apiVersion)}&$skiptoken=${Buffer.from(last, "utf8").toString("base64url")}` : undefined;
    sendJson(res, 200, nextLink === undefined ? { value } : { value, nextLink });
  };

  return {
    register(router) {
      // ARM answers carry a request id; clients log it.
      router.use(`/subscriptions/:subscription/`, (req, res, next) => {
        if (!/\/services\//i.test(req.path)) res.setHeader("x-ms-request-id", randomUUID());
        next();
      });
      router.put(RESOURCE, (req, res) => update(req, res, "put"));
      router.patch(RESOURCE, (req, res) => update(req, res, "patch"));

      router.get(RESOURCE, async (req, res) => {
        const { principal, subscription, resourceGroup, name } = await scope(req);
        const found = await docs.getTarget(docs.armTargetBlob(subscription, resourceGroup, name));
        if (found === undefined || found.value.arm === undefined || !canAccess(principal, found.value.workspace)) throw notFound(resourceGroup, name);
        sendJson(res, 200, armResourceJson(found.value, host.publicUrl, view(found.value)));
      });

      router.delete(RESOURCE, async (req, res) => {
        const { principal, subscription, resourceGroup, name } = await scope(req);
        const blob = docs.armTargetBlob(subscription, resourceGroup, name);
        const found = await docs.getTarget(blob);
        if (found === undefined || found.value.arm === undefined || !canAccess(principal, found.value.workspace)) {
          res.status(204).end();
          return;
        }
        assertAdmin(principal, "delete a web service");
        await docs.deleteTarget(blob);
        host.uninstall(blob);
        const op = await newOperation(subscription, found.value.arm.location, blob, "Succeeded");
        res.setHeader("Azure-AsyncOperation", operationUrl(subscription, found.value.arm.location, op.id));
        res.status(202).end();
      });

      const listKeys = async (req: Request, res: Response): Promise<void> => {
        const { principal, subscription, resourceGroup, name } = await scope(req);
        const found = await docs.getTarget(docs.armTargetBlob(subscription, resourceGroup, name));
        if (found === undefined || found.value.arm === undefined || !canAccess(principal, found.value.workspace)) throw notFound(resourceGroup, name);
        sendJson(res, 200, host.keysOf(found.value));
      };
      router.get(`${RESOURCE}/listKeys`, listKeys);
      router.post(`${RESOURCE}/listKeys`, listKeys);

      router.get(`/subscriptions/:subscription/resourceGroups/:resourceGroup/${PROVIDER}/webServices`, list);
      router.get(`/subscriptions/:subscription/${PROVIDER}/webServices`, list);

      router.get(`/subscriptions/:subscription/${PROVIDER}/locations/:location/operationsStatus/:operation`, async (req, res) => {
        const { principal } = await scope(req);
        const id = param(req, "operation");
        const op = /^[0-9a-f-]{36}$/.test(id) ? await docs.getOperation(id) : undefined;
        if (op === undefined || op.subscription !== param(req, "subscription")) throw armError("OperationNotFound", `Operation '${id}' was not found.`);
        const target = await docs.getTarget(op.target);
        if (target !== undefined && !canAccess(principal, target.value.workspace)) throw armError("OperationNotFound", `Operation '${id}' was not found.`);
        sendJson(res, 200, operationBody(op));
      });
    },
    async drain() {
      await Promise.allSettled([...running]);
    },
  };
}

/**
 * The request body. ARM requires no header but Authorization, so a body sent without a JSON
 * Content-Type (which the app's parser leaves unread) is read here, as JSON, by the same reader.
 */
async function armBody(req: Request): Promise<unknown> {
  if (req.body !== undefined || !hasRequestBody(req)) return req.body;
  req.headers["content-type"] = "application/json";
  return readJsonBody(req);
}

function checkApiVersion(req: Request): string {
  const version = req.query["api-version"];
  if (typeof version !== "string" || version === "") {
    throw armError("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
  }
  if (!(ARM_API_VERSIONS as readonly string[]).includes(version)) {
    throw armError("InvalidApiVersionParameter", `The api-version '${version}' is invalid. The supported versions are '${ARM_API_VERSIONS.join("', '")}'.`);
  }
  return version;
}

/** New keys given in a PUT/PATCH, the other one kept. */
function sealMerged(host: ScoringHost, id: string, current: TargetDoc, keys: { primary?: string; secondary?: string }): TargetDoc["keys"] {
  const existing = host.keysOf(current);
  return host.sealKeys(id, { primary: keys.primary ?? existing.primary, secondary: keys.secondary ?? existing.secondary });
}

/** Options of {@link createArmServiceNow}. */
export interface CreateArmServiceOptions {
  readonly subscription: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly location: string;
  readonly workspace: string;
  readonly title: string;
  readonly description: string;
  readonly prepared: PreparedModel;
  readonly inputSchema: InputColumn[];
  readonly resourceName: string;
  readonly maxConcurrentCalls: number;
  readonly modelId?: string;
  readonly run?: RunIdentity;
  readonly caller: string;
}

/**
 * Creates a new web service at once (Retrain's publish API; the model is already prepared), with a
 * definition equivalent to what an ARM PUT would carry. Throws 409 when it exists.
 */
export async function createArmServiceNow(host: ScoringHost, options: CreateArmServiceOptions): Promise<TargetDoc> {
  const blob = host.docs.armTargetBlob(options.subscription, options.resourceGroup, options.name);
  const id = host.newId();
  const now = new Date();
  const properties: JsonObject = {
    title: options.title,
    description: options.description,
    packageType: "Graph",
    readOnly: false,
    exposeSampleData: false,
    machineLearningWorkspace: { id: options.workspace },
    realtimeConfiguration: { maxConcurrentCalls: options.maxConcurrentCalls },
    diagnostics: { level: "None" },
    input: armInputSchema(options.inputSchema),
    assets: {
      asset1: {
        name: options.resourceName,
        type: "Resource",
        locationInfo: { uri: options.prepared.candidate.source ?? "" },
      },
    },
    package: { nodes: { node1: { assetId: "asset1" } }, edges: [], graphParameters: {} },
  };
  const base: TargetDoc = {
    version: 1,
    id,
    kind: "new",
    workspace: options.workspace,
    arm: {
      subscription: options.subscription,
      resourceGroup: options.resourceGroup,
      name: options.name,
      location: options.location,
      tags: {},
      properties,
      provisioningState: "Succeeded",
      createdOn: now.toISOString(),
      modifiedOn: now.toISOString(),
    },
    createdAt: now.toISOString(),
    description: options.description,
    throttleLevel: "High",
    maxConcurrentCalls: options.maxConcurrentCalls,
    diagnosticsTraceLevel: "None",
    keys: host.sealKeys(id),
    resourceName: options.resourceName,
    inputSchema: options.inputSchema,
    training: false,
    sequences: {},
    outbox: [],
    generation: 0,
  };
  const plan = planModelChange(base, {
    candidate: { ...options.prepared.candidate, ...(options.modelId !== undefined ? { modelId: options.modelId } : {}) },
    ...(options.run !== undefined ? { run: options.run } : {}),
    reason: "publish",
    caller: options.caller,
    now,
  });
  if (!(await host.docs.createTarget(blob, plan.doc))) {
    throw new HttpError(409, "WebServiceExists", `New web service '${options.name}' exists already in resource group '${options.resourceGroup}'.`);
  }
  const written = await host.docs.getTarget(blob);
  await host.install(blob, written?.value ?? plan.doc, written?.etag);
  return written?.value ?? plan.doc;
}
