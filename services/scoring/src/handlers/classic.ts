// Classic web service management (management.azureml.net): web services, endpoints, PATCH of the
// trained-model resource, refresh.
import { randomUUID } from "node:crypto";
import type { Request, Response, Router } from "express";
import { assertAdmin, assertWorkspaceAccess, authenticateBearer, HttpError, sendJson, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { ServedModelState, TargetDoc, WebServiceDoc } from "../documents.js";
import { managementError, NO_UPDATABLE_RESOURCES_MESSAGE } from "../errors.js";
import type { ScoringHost } from "../host.js";
import { planModelChange, type ModelCandidate } from "../model-updates.js";
import {
  checkEndpointName,
  CreateEndpointBody,
  ENDPOINT_NAME,
  endpointJson,
  MAX_ENDPOINTS,
  PatchEndpointBody,
  RefreshBody,
  resolveConcurrency,
  webServiceJson,
} from "../wire/classic.js";
import { changeReason, param, rejectedAsHttp, runHeaders, targetVerifier, type RunHeaders } from "./common.js";

/** What the classic management routes need. */
export interface ClassicRoutesDeps {
  readonly host: ScoringHost;
  /** Workspace (and admin) keys. */
  readonly verifyKey: ApiKeyVerifier<Principal>;
}

const BASE = "/workspaces/:workspace/webservices";

/** Endpoint settings as stored. */
export interface EndpointSettings {
  description: string;
  throttleLevel: "Low" | "High";
  maxConcurrentCalls: number;
  diagnosticsTraceLevel: "None" | "Error" | "All";
}

/**
 * A new endpoint document of `service`: fresh GUID and keys, the service's input schema and resource
 * name, and (for a predictive service) `model` as revision 1 with its audit entry.
 */
export function newEndpointDoc(
  host: ScoringHost,
  service: WebServiceDoc,
  name: string,
  settings: EndpointSettings,
  model: (ModelCandidate & Pick<ServedModelState, "runId" | "runSequence" | "pipeline">) | undefined,
  caller: string,
  reason: "publish" | "create",
): TargetDoc {
  const id = host.newId();
  const now = new Date();
  const doc: TargetDoc = {
    version: 1,
    id,
    kind: "classic",
    workspace: service.workspace,
    classic: { webServiceId: service.id, endpointName: name, isDefault: name === service.defaultEndpointName },
    createdAt: now.toISOString(),
    ...settings,
    keys: host.sealKeys(id),
    resourceName: service.resourceName,
    inputSchema: service.inputSchema,
    training: service.training,
    sequences: {},
    outbox: [],
    generation: 0,
  };
  if (model === undefined) return doc;
  const run = {
    ...(model.runId !== undefined ? { runId: model.runId } : {}),
    ...(model.runSequence !== undefined ? { runSequence: model.runSequence } : {}),
    ...(model.pipeline !== undefined ? { pipeline: model.pipeline } : {}),
  };
  const plan = planModelChange(doc, {
    candidate: model,
    ...(Object.keys(run).length > 0 ? { run } : {}),
    reason,
    caller,
    now,
  });
  return plan.doc;
}

/**
 * Creates an endpoint of `service` (the classic PUT): settings from `body`, serving the model the
 * default endpoint serves (as the classic service did). An endpoint that exists gets its settings
 * updated instead (PUT is idempotent).
 */
export async function createEndpoint(host: ScoringHost, service: WebServiceDoc, name: string, body: CreateEndpointBody, caller: string): Promise<TargetDoc> {
  checkEndpointName(name);
  const docs = host.docs;
  const blob = docs.classicTargetBlob(service.workspace, service.id, name);
  const throttleLevel = body.ThrottleLevel ?? "Low";
  const settings: EndpointSettings = {
    description: body.Description ?? "",
    throttleLevel,
    maxConcurrentCalls: resolveConcurrency(throttleLevel, body.MaxConcurrentCalls ?? undefined),
    diagnosticsTraceLevel: body.DiagnosticsTraceLevel ?? "None",
  };
  const defaultDoc = (await docs.getTarget(docs.classicTargetBlob(service.workspace, service.id, service.defaultEndpointName)))?.value;
  const doc = newEndpointDoc(host, service, name, settings, service.training ? undefined : defaultDoc?.model, caller, "create");
  if (!(await docs.createTarget(blob, doc))) return updateSettings(host, blob, body);
  const written = await docs.getTarget(blob);
  await host.install(blob, written?.value ?? doc, written?.etag);
  return written?.value ?? doc;
}

/** The classic management routes under `/workspaces/{ws}/webservices`. */
export function registerClassicRoutes(router: Router, deps: ClassicRoutesDeps): void {
  const { host, verifyKey } = deps;
  const docs = host.docs;

  // Every classic management answer carries a request id, as the classic service's did.
  router.use(BASE, (_req, res, next) => {
    res.setHeader("x-ms-request-id", randomUUID());
    next();
  });

  const workspaceCaller = async (req: Request): Promise<{ workspace: string; principal: Principal }> => {
    const principal = await authenticateBearer(req.headers.authorization, verifyKey);
    const workspace = param(req, "workspace");
    assertWorkspaceAccess(principal, workspace, "web service");
    return { workspace, principal };
  };

  const lookupService = async (workspace: string, idOrName: string): Promise<WebServiceDoc | undefined> => {
    const byId = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(idOrName) ? await docs.getWebService(workspace, idOrName) : undefined;
    if (byId !== undefined) return byId;
    // Retrain's configuration names services; accept a unique Name where the Id is expected.
    const named = (await docs.listWebServices(workspace)).filter((s) => s.name === idOrName);
    return named.length === 1 ? named[0] : undefined;
  };

  const findService = async (workspace: string, idOrName: string): Promise<WebServiceDoc> => {
    const service = await lookupService(workspace, idOrName);
    if (service === undefined) throw managementError("WebServiceNotFound", `Web service '${idOrName}' was not found in workspace '${workspace}'.`);
    return service;
  };

  /** Authenticates an endpoint operation: workspace keys, or this endpoint's own keys. */
  const endpointCaller = async (
    req: Request,
    options: { mustExist: boolean },
  ): Promise<{ workspace: string; principal: Principal; service: WebServiceDoc; name: string; blob: string; doc: TargetDoc | undefined }> => {
    const workspace = param(req, "workspace");
    const name = param(req, "endpoint");
    const idOrName = param(req, "webservice");
    // Read before authenticating so the endpoint's own keys can be checked; a caller without a valid
    // key learns nothing from it (401 either way).
    const validWorkspace = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(workspace);
    const service = validWorkspace ? await lookupService(workspace, idOrName) : undefined;
    const blob = service === undefined ? undefined : docs.classicTargetBlob(workspace, service.id, name);
    const found = blob === undefined || !ENDPOINT_NAME.test(name) ? undefined : await docs.getTarget(blob);
    const principal = await authenticateBearer(req.headers.authorization, targetVerifier(host, verifyKey, found?.value));
    assertWorkspaceAccess(principal, workspace, "web service");
    if (service === undefined || blob === undefined) {
      throw managementError("WebServiceNotFound", `Web service '${idOrName}' was not found in workspace '${workspace}'.`);
    }
    if (options.mustExist && found === undefined) {
      throw managementError("EndpointNotFound", `Endpoint '${name}' was not found in web service '${service.id}'.`);
    }
    return { workspace, principal, service, name, blob, doc: found?.value };
  };

  const endpointBody = async (doc: TargetDoc): Promise<Record<string, unknown>> =>
    endpointJson(doc, host.keysOf(doc), host.publicUrl, await host.modelLocation(doc));

  const countEndpoints = async (service: WebServiceDoc): Promise<number> =>
    (await docs.listTargetBlobs(docs.classicTargetsPrefix(service.workspace, service.id))).length;

  router.get(BASE, async (req, res) => {
    const { workspace } = await workspaceCaller(req);
    const services = await docs.listWebServices(workspace);
    if (services.length === 0) {
      res.status(204).end();
      return;
    }
    const out = [];
    for (const service of services) out.push(webServiceJson(service, await countEndpoints(service)));
    sendJson(res, 200, out);
  });

  router.get(`${BASE}/:webservice`, async (req, res) => {
    const { workspace } = await workspaceCaller(req);
    const service = await findService(workspace, param(req, "webservice"));
    sendJson(res, 200, webServiceJson(service, await countEndpoints(service)));
  });

  router.delete(`${BASE}/:webservice`, async (req, res) => {
    const { workspace, principal } = await workspaceCaller(req);
    const service = await findService(workspace, param(req, "webservice"));
    assertAdmin(principal, "delete a web service");
    for (const blob of await docs.listTargetBlobs(docs.classicTargetsPrefix(workspace, service.id))) {
      await docs.deleteTarget(blob.name);
      host.uninstall(blob.name);
    }
    await docs.deleteWebService(workspace, service.id);
    res.status(204).end();
  });

  router.get(`${BASE}/:webservice/endpoints`, async (req, res) => {
    const { workspace } = await workspaceCaller(req);
    const service = await findService(workspace, param(req, "webservice"));
    const targets = await docs.listTargets(docs.classicTargetsPrefix(workspace, service.id));
    if (targets.length === 0) {
      res.status(204).end();
      return;
    }
    const out = [];
    for (const { doc } of targets.sort((a, b) => a.doc.createdAt.localeCompare(b.doc.createdAt))) out.push(await endpointBody(doc));
    sendJson(res, 200, out);
  });

  router.get(`${BASE}/:webservice/endpoints/:endpoint`, async (req, res) => {
    const { doc } = await endpointCaller(req, { mustExist: true });
    sendJson(res, 200, await endpointBody(doc as TargetDoc));
  });

  router.put(`${BASE}/:webservice/endpoints/:endpoint`, async (req, res) => {
    const caller = await endpointCaller(req, { mustExist: false });
    const { service, name, blob, principal } = caller;
    checkEndpointName(name);
    const body = CreateEndpointBody.parse(req.body ?? {});
    if (caller.doc !== undefined) {
      const updated = await updateSettings(host, blob, body);
      sendJson(res, 200, await endpointBody(updated));
      return;
    }
    if ((await countEndpoints(service)) >= MAX_ENDPOINTS) {
      throw managementError("TooManyEndpoints", `A web service can have at most ${MAX_ENDPOINTS} endpoints.`);
    }
    const created = await createEndpoint(host, service, name, body, principal.name);
    sendJson(res, 200, await endpointBody(created));
  });

  router.patch(`${BASE}/:webservice/endpoints/:endpoint`, async (req, res) => {
    const { service, name, blob, principal, doc } = await endpointCaller(req, { mustExist: true });
    const body = PatchEndpointBody.parse(req.body ?? {});
    const resources = body.Resources ?? undefined;
    if (resources === undefined) {
      const updated = await updateSettings(host, blob, body);
      sendJson(res, 200, await endpointBody(updated));
      return;
    }
    if (service.training || (doc as TargetDoc).training) throw managementError("NoUpdatableResources", NO_UPDATABLE_RESOURCES_MESSAGE);
    if (name === service.defaultEndpointName) {
      throw managementError(
        "DefaultEndpointNotUpdatable",
        "The default endpoint is kept in sync with the published experiment; its trained model cannot be replaced. Add an endpoint and patch that one.",
      );
    }
    if (resources.length > 1) throw managementError("BadArgument", `This web service has one updatable resource ('${service.resourceName}').`, "Resources");
    const resource = resources[0] as NonNullable<typeof resources>[number];
    if (resource.Name !== service.resourceName) {
      throw managementError(
        "ResourceNotFound",
        `The web service has no updatable resource named '${resource.Name}'; its trained model resource is '${service.resourceName}'.`,
        "Resources[0].Name",
      );
    }
    const given = fromExtension(runHeaders(req.headers), body.Retrain ?? undefined);
    // A rollback skips the guard that keeps an endpoint from moving backwards: an admin decision.
    if (given.reason === "rollback") assertAdmin(principal, "roll an endpoint back");
    let prepared;
    try {
      prepared = await host.prepareModel(
        { kind: "reference", BaseLocation: resource.Location.BaseLocation, RelativeLocation: resource.Location.RelativeLocation, SasBlobToken: resource.Location.SasBlobToken ?? undefined },
        (doc as TargetDoc).inputSchema,
      );
    } catch (error) {
      throw rejectedAsHttp(error);
    }
    const result = await host.changeModel(
      blob,
      {
        candidate: { ...prepared.candidate, ...(given.modelId !== undefined ? { modelId: given.modelId } : {}) },
        ...(given.run !== undefined ? { run: given.run } : {}),
        reason: changeReason(given),
        caller: principal.name,
        now: new Date(),
      },
      (next) => applySettings(next, body),
    );
    if (result.outcome === "stale") {
      throw managementError(
        "StaleModelUpdate",
        `Run sequence ${given.run?.runSequence ?? "?"} is older than ${result.highest}, which this endpoint has already served for pipeline '${result.pipeline}'. Send Retrain.reason "rollback" to go back on purpose.`,
      );
    }
    const model = result.doc.model;
    if (model !== undefined) {
      res.setHeader("x-retrain-revision", String(model.revision));
      res.setHeader("x-retrain-model", `${model.modelId}@r${model.revision}`);
    }
    sendJson(res, 200, await endpointBody(result.doc));
  });

  router.delete(`${BASE}/:webservice/endpoints/:endpoint`, async (req, res) => {
    const { service, name, blob, principal } = await endpointCaller(req, { mustExist: true });
    assertAdmin(principal, "delete an endpoint");
    if (name === service.defaultEndpointName && (await countEndpoints(service)) > 1) {
      throw managementError("DefaultEndpointInUse", "The default endpoint cannot be deleted while the web service has other endpoints.");
    }
    await docs.deleteTarget(blob);
    host.uninstall(blob);
    res.status(204).end();
  });

  router.post(`${BASE}/:webservice/endpoints/:endpoint/refresh`, async (req: Request, res: Response) => {
    const { service, name, blob, principal, doc } = await endpointCaller(req, { mustExist: true });
    if (name === service.defaultEndpointName) throw managementError("DefaultEndpointNotRefreshable", "The default endpoint cannot be refreshed.");
    const body = RefreshBody.parse(req.body ?? {});
    const defaultModel = (await docs.getTarget(docs.classicTargetBlob(service.workspace, service.id, service.defaultEndpointName)))?.value.model;
    const current = (doc as TargetDoc).model;
    if (body.OverwriteResources !== true || defaultModel === undefined || current?.sha256 === defaultModel.sha256) {
      res.status(304).end();
      return;
    }
    const result = await host.changeModel(blob, {
      candidate: defaultModel,
      ...(defaultModel.runId !== undefined || defaultModel.runSequence !== undefined
        ? {
            run: {
              ...(defaultModel.runId !== undefined ? { runId: defaultModel.runId } : {}),
              ...(defaultModel.runSequence !== undefined ? { runSequence: defaultModel.runSequence } : {}),
              ...(defaultModel.pipeline !== undefined ? { pipeline: defaultModel.pipeline } : {}),
            },
          }
        : {}),
      reason: "refresh",
      caller: principal.name,
      now: new Date(),
    });
    sendJson(res, 200, await endpointBody(result.doc));
  });
}

function fromExtension(headers: RunHeaders, extension: { runId?: string | undefined; runSequence?: number | undefined; pipeline?: string | undefined; modelId?: string | undefined; reason?: "promotion" | "rollback" | undefined } | undefined): RunHeaders {
  if (extension === undefined) return headers;
  const run = {
    ...headers.run,
    ...(extension.runId !== undefined ? { runId: extension.runId } : {}),
    ...(extension.runSequence !== undefined ? { runSequence: extension.runSequence } : {}),
    ...(extension.pipeline !== undefined ? { pipeline: extension.pipeline } : {}),
  };
  const modelId = extension.modelId ?? headers.modelId;
  const reason = extension.reason ?? headers.reason;
  return {
    ...(Object.keys(run).length > 0 ? { run } : {}),
    ...(modelId !== undefined ? { modelId } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}

type SettingsBody = {
  Description?: string | null | undefined;
  ThrottleLevel?: "Low" | "High" | null | undefined;
  MaxConcurrentCalls?: number | null | undefined;
  DiagnosticsTraceLevel?: "None" | "Error" | "All" | null | undefined;
};

function applySettings(doc: TargetDoc, body: SettingsBody): TargetDoc {
  const throttleLevel = body.ThrottleLevel ?? doc.throttleLevel;
  // Switching the level without a number takes the new level's default.
  const requested = body.MaxConcurrentCalls ?? (throttleLevel !== doc.throttleLevel ? undefined : doc.maxConcurrentCalls);
  return {
    ...doc,
    description: body.Description ?? doc.description,
    throttleLevel,
    maxConcurrentCalls: resolveConcurrency(throttleLevel, requested),
    diagnosticsTraceLevel: body.DiagnosticsTraceLevel ?? doc.diagnosticsTraceLevel,
  };
}

async function updateSettings(host: ScoringHost, blob: string, body: SettingsBody): Promise<TargetDoc> {
  const result = await host.docs.updateTarget(blob, (current) => {
    if (current === undefined) return undefined;
    const next = applySettings(current, body);
    return JSON.stringify(next) === JSON.stringify(current) ? undefined : next;
  });
  if (result.value === undefined) throw new HttpError(404, "EndpointNotFound", "The endpoint was deleted meanwhile.");
  if (result.changed) await host.install(blob, result.value, result.etag);
  return result.value;
}
