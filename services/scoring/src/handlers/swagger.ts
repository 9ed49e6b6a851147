// `GET {ApiLocation}/swagger.json`: the Swagger 2.0 document of an endpoint's RRS and BES APIs.
import type { Router } from "express";
import { sendJson } from "@retrain/service-kit";
import type { ScoringHost } from "../host.js";
import type { InputColumn } from "../model-runtime.js";
import { INPUT_NAME, OUTPUT_NAME } from "../wire/rrs.js";
import { authenticateForTarget, findTarget } from "./execute.js";

function columnSchema(kind: InputColumn["kind"]): Record<string, unknown> {
  return kind === "numeric" ? { type: "number", format: "double" } : { type: "string" };
}

/** The Swagger document of a target: input columns from its schema, output columns from its task. */
export function swaggerDocument(basePath: string, title: string, inputSchema: readonly InputColumn[], task: "binary" | "regression" | undefined): Record<string, unknown> {
  const input = Object.fromEntries(inputSchema.map((c) => [c.name, columnSchema(c.kind)]));
  const output: Record<string, unknown> = { "Scored Labels": { type: task === "regression" ? "number" : "string" } };
  if (task !== "regression") output["Scored Probabilities"] = { type: "number", format: "double" };
  const apiVersion = { name: "api-version", in: "query", required: true, type: "string", default: "2.0" };
  return {
    swagger: "2.0",
    info: { title, description: "Request-Response and Batch Execution Service of a predictive web service.", version: "2.0" },
    basePath,
    schemes: ["https", "http"],
    consumes: ["application/json"],
    produces: ["application/json"],
    securityDefinitions: { apiKey: { type: "apiKey", name: "Authorization", in: "header", description: "For example: Bearer abc123" } },
    security: [{ apiKey: [] }],
    paths: {
      "/execute?api-version=2.0&format=swagger": {
        post: {
          operationId: "execute",
          summary: "Execute the web service and get a response synchronously",
          parameters: [{ name: "WebServiceInput", in: "body", required: true, schema: { $ref: "#/definitions/ExecutionRequest" } }],
          responses: {
            "200": { description: "OK", schema: { $ref: "#/definitions/ExecutionResponse" } },
            default: { description: "Failure", schema: { $ref: "#/definitions/Error" } },
          },
        },
      },
      "/jobs": {
        post: { operationId: "submitJob", parameters: [apiVersion], responses: { "200": { description: "The job id", schema: { type: "string" } } } },
      },
      "/jobs/{jobId}": {
        get: { operationId: "getJobStatus", parameters: [apiVersion, { name: "jobId", in: "path", required: true, type: "string" }], responses: { "200": { description: "BatchExecutionStatus" } } },
        delete: { operationId: "cancelJob", parameters: [apiVersion, { name: "jobId", in: "path", required: true, type: "string" }], responses: { "204": { description: "Cancelled" } } },
      },
      "/jobs/{jobId}/start": {
        post: { operationId: "startJob", parameters: [apiVersion, { name: "jobId", in: "path", required: true, type: "string" }], responses: { "204": { description: "Started" } } },
      },
    },
    definitions: {
      [`${INPUT_NAME}Item`]: { type: "object", properties: input },
      [`${OUTPUT_NAME}Item`]: { type: "object", properties: output },
      ExecutionRequest: {
        type: "object",
        properties: {
          Inputs: { type: "object", properties: { [INPUT_NAME]: { type: "array", items: { $ref: `#/definitions/${INPUT_NAME}Item` } } } },
          GlobalParameters: { type: "object", additionalProperties: { type: "string" } },
        },
      },
      ExecutionResponse: {
        type: "object",
        properties: { Results: { type: "object", properties: { [OUTPUT_NAME]: { type: "array", items: { $ref: `#/definitions/${OUTPUT_NAME}Item` } } } } },
      },
      Error: {
        type: "object",
        properties: {
          error: {
            type: "object",
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              details: { type: "array", items: { type: "object", properties: { code: { type: "string" }, target: { type: "string" }, message: { type: "string" } } } },
            },
          },
        },
      },
    },
  };
}

/**
 * Swagger routes of classic endpoints and new web services. Registered before the BES routes, and a
 * GUID that is not a scoring target falls through (`next`) to the other BES host (the trainer).
 */
export function registerSwaggerRoutes(router: Router, host: ScoringHost): void {
  router.get("/workspaces/:workspace/services/:service/swagger.json", async (req, res, next) => {
    const id = req.params["service"] ?? "";
    if (host.live.get(id) === undefined) await host.sync.syncNow();
    if (host.live.get(id) === undefined) {
      next();
      return;
    }
    const target = await findTarget(host, "classic", req.params["workspace"] ?? "", id);
    await authenticateForTarget(target, req.headers.authorization);
    sendJson(res, 200, swaggerDocument(`/workspaces/${target.doc.workspace}/services/${target.id}`, target.doc.resourceName.replace(/\s*\[trained model\]$/i, ""), target.doc.inputSchema, target.doc.model?.task));
  });
  router.get("/subscriptions/:subscription/services/:service/swagger.json", async (req, res) => {
    const target = await findTarget(host, "new", req.params["subscription"] ?? "", req.params["service"] ?? "");
    await authenticateForTarget(target, req.headers.authorization);
    sendJson(res, 200, swaggerDocument(`/subscriptions/${target.doc.arm?.subscription ?? ""}/services/${target.id}`, target.doc.arm?.name ?? target.id, target.doc.inputSchema, target.doc.model?.task));
  });
}
