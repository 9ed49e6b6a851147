// Retrain's own API of the scoring host (`/v1/...`): publishing, and for promoters and evaluators the
// model a target serves now (with a read URL of its copy) and its audit log.
import type { Request, Router } from "express";
import { assertAdmin, assertWorkspaceAccess, authenticateBearer, HttpError, sendJson, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { AuditEntry, TargetDoc } from "../documents.js";
import { managementError } from "../errors.js";
import type { ScoringHost } from "../host.js";
import { targetKeyOf } from "../model-updates.js";
import { apiLocation, endpointJson, resolveConcurrency, webServiceJson } from "../wire/classic.js";
import { armResourceJson } from "../wire/arm.js";
import { createArmServiceNow } from "./arm.js";
import { param } from "./common.js";
import { prepareInitialModel, publishClassic, PublishBody } from "./publish.js";

/** What the /v1 routes need. */
export interface V1RoutesDeps {
  readonly host: ScoringHost;
  readonly verifyKey: ApiKeyVerifier<Principal>;
}

/** The model a target serves, as `GET …/model` answers it. */
export interface CurrentModelBody {
  target: string;
  targetId: string;
  apiLocation: string;
  modelId: string;
  revision: number;
  runId: string | null;
  runSequence: number | null;
  pipeline: string | null;
  sha256: string;
  size: number;
  learner: string;
  task: "binary" | "regression";
  since: string;
  reason: string;
  /** A read URL of the served `.ilearner` copy (null when the store cannot mint one). */
  readUrl: string | null;
  readUrlExpiresAt: string | null;
}

/** The /v1 routes. */
export function registerV1Routes(router: Router, deps: V1RoutesDeps): void {
  const { host, verifyKey } = deps;
  const docs = host.docs;

  const caller = async (req: Request, workspace: string): Promise<Principal> => {
    const principal = await authenticateBearer(req.headers.authorization, verifyKey);
    assertWorkspaceAccess(principal, workspace, "web service");
    return principal;
  };

  router.post("/v1/workspaces/:workspace/webservices", async (req, res) => {
    const workspace = param(req, "workspace");
    const principal = await caller(req, workspace);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(workspace)) throw managementError("BadArgument", `'${workspace}' is not a valid workspace id.`);
    const body = PublishBody.parse(req.body ?? {});
    // A blob name reaches anything in the shared store (other workspaces' models too): admins only.
    if (body.model !== undefined && "blob" in body.model) assertAdmin(principal, "publish from a blob name of the store");
    if (body.kind === "classic") {
      const { service, endpoint } = await publishClassic(host, workspace, body, principal.name);
      sendJson(res, 201, {
        kind: "classic",
        webService: webServiceJson(service, 1),
        defaultEndpoint: endpointJson(endpoint, host.keysOf(endpoint), host.publicUrl, await host.modelLocation(endpoint)),
      });
      return;
    }
    if (body.subscription === undefined || body.resourceGroup === undefined) {
      throw managementError("BadArgument", "A new web service needs 'subscription' and 'resourceGroup'.");
    }
    if (body.training) throw managementError("BadArgument", "A new web service cannot be a training web service here.");
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(body.name)) throw managementError("InvalidWebServiceName", `'${body.name}' is not a valid ARM resource name.`);
    const { prepared, inputSchema } = await prepareInitialModel(host, body);
    const doc = await createArmServiceNow(host, {
      subscription: body.subscription,
      resourceGroup: body.resourceGroup,
      name: body.name,
      location: body.location ?? "South Central US",
      workspace,
      title: body.name,
      description: body.description ?? "",
      prepared,
      inputSchema,
      resourceName: body.resourceName ?? `${body.name} [trained model]`,
      maxConcurrentCalls: Math.max(4, resolveConcurrency(body.endpoint?.ThrottleLevel ?? "High", body.endpoint?.MaxConcurrentCalls)),
      ...(body.modelId !== undefined ? { modelId: body.modelId } : {}),
      ...(body.run !== undefined ? { run: body.run } : {}),
      caller: principal.name,
    });
    const arm = doc.arm as NonNullable<TargetDoc["arm"]>;
    sendJson(res, 201, {
      kind: "new",
      resource: armResourceJson(doc, host.publicUrl, { properties: arm.properties, location: arm.location, tags: arm.tags, provisioningState: arm.provisioningState }),
      apiLocation: apiLocation(host.publicUrl, doc),
      keys: host.keysOf(doc),
    });
  });

  const classicTarget = async (req: Request): Promise<TargetDoc> => {
    const workspace = param(req, "workspace");
    await caller(req, workspace);
    const idOrName = param(req, "webservice");
    const service =
      (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(idOrName) ? await docs.getWebService(workspace, idOrName) : undefined) ??
      (await docs.listWebServices(workspace)).find((s) => s.name === idOrName);
    if (service === undefined) throw managementError("WebServiceNotFound", `Web service '${idOrName}' was not found in workspace '${workspace}'.`);
    const name = param(req, "endpoint");
    const found = /^[a-z0-9-]{1,24}$/.test(name) ? await docs.getTarget(docs.classicTargetBlob(workspace, service.id, name)) : undefined;
    if (found === undefined) throw managementError("EndpointNotFound", `Endpoint '${name}' was not found in web service '${service.id}'.`);
    return found.value;
  };

  const armTarget = async (req: Request): Promise<TargetDoc> => {
    const principal = await authenticateBearer(req.headers.authorization, verifyKey);
    const found = await docs.getTarget(docs.armTargetBlob(param(req, "subscription"), param(req, "resourceGroup"), param(req, "name")));
    if (found === undefined || (principal.workspace !== "*" && principal.workspace !== found.value.workspace)) {
      throw new HttpError(404, "WebServiceNotFound", `New web service '${param(req, "name")}' was not found.`);
    }
    return found.value;
  };

  const currentModel = async (doc: TargetDoc): Promise<CurrentModelBody> => {
    const model = doc.model;
    if (model === undefined) throw managementError("ModelNotFound", "This target serves no model (a training web service, or its first load failed).");
    const expires = new Date(Date.now() + host.options.readUrlLifetimeMs);
    const readUrl = (await host.readUrl(doc)) ?? null;
    return {
      target: targetKeyOf(doc),
      targetId: doc.id,
      apiLocation: apiLocation(host.publicUrl, doc),
      modelId: model.modelId,
      revision: model.revision,
      runId: model.runId ?? null,
      runSequence: model.runSequence ?? null,
      pipeline: model.pipeline ?? null,
      sha256: model.sha256,
      size: model.size,
      learner: model.learner,
      task: model.task,
      since: model.since,
      reason: model.reason,
      readUrl,
      readUrlExpiresAt: readUrl === null ? null : expires.toISOString(),
    };
  };

  const history = async (doc: TargetDoc): Promise<{ value: AuditEntry[] }> => {
    const written = await docs.listAudit(doc.id);
    const seen = new Set(written.map((e) => e.revision));
    // Entries still in the outbox (not yet relayed) are part of the log already.
    const value = [...written, ...doc.outbox.filter((e) => !seen.has(e.revision))].sort((a, b) => a.revision - b.revision);
    return { value };
  };

  const CLASSIC = "/v1/workspaces/:workspace/webservices/:webservice/endpoints/:endpoint";
  const NEW = "/v1/subscriptions/:subscription/resourceGroups/:resourceGroup/webServices/:name";
  router.get(`${CLASSIC}/model`, async (req, res) => sendJson(res, 200, await currentModel(await classicTarget(req))));
  router.get(`${CLASSIC}/history`, async (req, res) => sendJson(res, 200, await history(await classicTarget(req))));
  router.get(`${NEW}/model`, async (req, res) => sendJson(res, 200, await currentModel(await armTarget(req))));
  router.get(`${NEW}/history`, async (req, res) => sendJson(res, 200, await history(await armTarget(req))));
}
