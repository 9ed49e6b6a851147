import type { Request, Response, Router } from "express";
import { assertWorkspaceAccess, HttpError, principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { JobService } from "./job-service.js";
import { BatchExecutionRequest } from "./wire.js";

/** Options for {@link registerBesRoutes}. */
export interface BesRoutesOptions {
  /**
   * The BES hosts served here. One process usually has one (the trainer's training web services, or
   * the scoring host's endpoints); the embedded default serves both on one port, and a request goes
   * to the host that knows the service named in its path.
   */
  readonly jobs: JobService | readonly JobService[];
  readonly verifyKey: ApiKeyVerifier<Principal>;
}

const BASE = "/workspaces/:workspace/services/:service";

const param = routeParam;

function checkApiVersion(req: Request): void {
  const version = req.query["api-version"];
  if (version !== undefined && version !== "2.0") {
    throw new HttpError(400, "BadArgument", `Unsupported api-version '${String(version)}'; this service implements 2.0.`);
  }
}

function scope(req: Request, res: Response): { workspace: string; service: string } {
  checkApiVersion(req);
  const workspace = param(req, "workspace");
  assertWorkspaceAccess(principalOf<Principal>(res), workspace, "web service");
  return { workspace, service: param(req, "service") };
}

/**
 * The BES v2.0 routes under `/workspaces/{ws}/services/{svc}` (the classic ApiLocation):
 * submit, start, status, cancel, list, swagger. Every route needs `Authorization: Bearer <key>`.
 */
export function registerBesRoutes(router: Router, options: BesRoutesOptions): void {
  const hosts: readonly JobService[] = Array.isArray(options.jobs) ? options.jobs : [options.jobs as JobService];
  const auth = requireApiKey(options.verifyKey);
  const hostOf = async (workspace: string, service: string): Promise<JobService> => {
    for (const host of hosts) if ((await host.executor.describe(workspace, service)) !== undefined) return host;
    throw new HttpError(404, "NotFound", `Web service '${service}' was not found in workspace '${workspace}'.`, {
      details: [{ code: "WebServiceNotFound", message: `Web service '${service}' was not found.` }],
    });
  };

  router.post(`${BASE}/jobs`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const jobs = await hostOf(workspace, service);
    const request = BatchExecutionRequest.parse(req.body ?? {});
    const id = await jobs.submit(workspace, service, request);
    res.status(200).json(id);
  });

  router.post(`${BASE}/jobs/:job/start`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const jobs = await hostOf(workspace, service);
    await jobs.start(workspace, service, param(req, "job"));
    res.status(204).end();
  });

  router.get(`${BASE}/jobs/:job`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const jobs = await hostOf(workspace, service);
    const job = await jobs.get(workspace, service, param(req, "job"));
    res.status(200).json(await jobs.status(job));
  });

  router.delete(`${BASE}/jobs/:job`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const jobs = await hostOf(workspace, service);
    await jobs.cancel(workspace, service, param(req, "job"));
    res.status(204).end();
  });

  router.get(`${BASE}/jobs`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const jobs = await hostOf(workspace, service);
    const list = await jobs.jobs.list(workspace, service);
    const out = [];
    for (const job of list) out.push({ Id: job.id, CreatedAt: job.createdAt, ...(await jobs.status(job)) });
    res.status(200).json(out);
  });

  router.get(`${BASE}/swagger.json`, auth, async (req, res) => {
    const { workspace, service } = scope(req, res);
    const spec = await (await hostOf(workspace, service)).executor.describe(workspace, service);
    if (spec === undefined) throw new HttpError(404, "NotFound", `Web service '${service}' was not found.`);
    res.status(200).json(besSwagger(workspace, service, spec));
  });
}

function besSwagger(workspace: string, service: string, spec: { inputs: readonly string[]; outputs: Readonly<Record<string, string>> }): Record<string, unknown> {
  const ref = { type: "object", properties: { ConnectionString: { type: "string" }, RelativeLocation: { type: "string" }, BaseLocation: { type: "string" }, SasBlobToken: { type: "string" } } };
  return {
    swagger: "2.0",
    info: { title: `${service} — Batch Execution Service`, version: "2.0" },
    basePath: `/workspaces/${workspace}/services/${service}`,
    schemes: ["https", "http"],
    securityDefinitions: { apiKey: { type: "apiKey", name: "Authorization", in: "header", description: "For example: Bearer abc123" } },
    security: [{ apiKey: [] }],
    paths: {
      "/jobs": {
        post: { operationId: "submitJob", parameters: [{ name: "api-version", in: "query", required: true, type: "string" }], responses: { "200": { description: "The job id", schema: { type: "string" } } } },
        get: { operationId: "listJobs", responses: { "200": { description: "Jobs of this service" } } },
      },
      "/jobs/{jobId}/start": { post: { operationId: "startJob", responses: { "204": { description: "Started" } } } },
      "/jobs/{jobId}": {
        get: { operationId: "getJobStatus", responses: { "200": { description: "BatchExecutionStatus" } } },
        delete: { operationId: "cancelJob", responses: { "204": { description: "The job is successfully cancelled" } } },
      },
    },
    definitions: {
      AzureBlobDataReference: ref,
      BatchExecutionRequest: {
        type: "object",
        properties: {
          Inputs: { type: "object", properties: Object.fromEntries(spec.inputs.map((n) => [n, { $ref: "#/definitions/AzureBlobDataReference" }])) },
          Outputs: { type: "object", properties: Object.fromEntries(Object.keys(spec.outputs).map((n) => [n, { $ref: "#/definitions/AzureBlobDataReference" }])) },
          GlobalParameters: { type: "object", additionalProperties: { type: "string" } },
        },
      },
      BatchExecutionStatus: {
        type: "object",
        properties: {
          StatusCode: { type: "string", enum: ["NotStarted", "Running", "Failed", "Cancelled", "Finished"], default: "NotStarted" },
          Results: { type: "object", additionalProperties: { $ref: "#/definitions/AzureBlobDataReference" } },
          Details: { type: "string" },
        },
      },
    },
  };
}
