import type { IncomingHttpHeaders } from "node:http";
import type { Request } from "express";
import { apiKeyVerifier, HttpError, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { ChangeReason, RunIdentity, TargetDoc } from "../documents.js";
import { managementError } from "../errors.js";
import { ModelRejectedError, type ScoringHost } from "../host.js";
import { targetKeyOf } from "../model-updates.js";

/** A path parameter express matched (a route without it is a programming error → 400). */
export function param(req: Request, name: string): string {
  const value = optionalParam(req, name);
  if (value === "") throw new HttpError(400, "BadArgument", `Missing path parameter '${name}'.`);
  return value;
}

/** A path parameter, or "" when the route has none of that name. */
export function optionalParam(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === "string" ? value : "";
}

/**
 * Headers a Retrain promoter may send instead of the `Retrain` body field (the only way for ARM,
 * whose body is the resource): `x-retrain-run-id`, `x-retrain-run-sequence`, `x-retrain-pipeline`,
 * `x-retrain-model-id`, `x-retrain-reason` (`promotion` | `rollback`).
 */
export interface RunHeaders {
  readonly run?: RunIdentity;
  readonly modelId?: string;
  readonly reason?: "promotion" | "rollback";
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text.trim() === "" ? undefined : text.trim();
}

/** Reads the run identity headers; a malformed sequence or reason is a 400. */
export function runHeaders(headers: IncomingHttpHeaders): RunHeaders {
  const runId = header(headers, "x-retrain-run-id");
  const sequenceText = header(headers, "x-retrain-run-sequence");
  const pipeline = header(headers, "x-retrain-pipeline");
  const modelId = header(headers, "x-retrain-model-id");
  const reasonText = header(headers, "x-retrain-reason");
  if (sequenceText !== undefined && !/^\d{1,15}$/.test(sequenceText)) {
    throw new HttpError(400, "BadArgument", "x-retrain-run-sequence must be a non-negative integer.");
  }
  if (reasonText !== undefined && reasonText !== "promotion" && reasonText !== "rollback") {
    throw new HttpError(400, "BadArgument", "x-retrain-reason must be 'promotion' or 'rollback'.");
  }
  const run: RunIdentity = {
    ...(runId !== undefined ? { runId } : {}),
    ...(sequenceText !== undefined ? { runSequence: Number(sequenceText) } : {}),
    ...(pipeline !== undefined ? { pipeline } : {}),
  };
  return {
    ...(Object.keys(run).length > 0 ? { run } : {}),
    ...(modelId !== undefined ? { modelId } : {}),
    ...(reasonText !== undefined ? { reason: reasonText } : {}),
  };
}

/** The change reason of an update: explicit rollback, a promotion (a run was named), or a plain update. */
export function changeReason(given: RunHeaders): ChangeReason {
  if (given.reason !== undefined) return given.reason;
  return given.run !== undefined || given.modelId !== undefined ? "promotion" : "update";
}

/** A model that cannot be served, as the management API's 400 with its code. */
export function rejectedAsHttp(error: unknown): unknown {
  if (error instanceof ModelRejectedError) return managementError(error.code, error.message);
  return error;
}

/**
 * Keys that may manage a target: the deployment's (admin, workspace) and the target's own primary
 * and secondary key (the classic EndpointKey security definition).
 */
export function targetVerifier(host: ScoringHost, verifyKey: ApiKeyVerifier<Principal>, doc: TargetDoc | undefined): ApiKeyVerifier<Principal> {
  if (doc === undefined) return verifyKey;
  const keys = host.keysOf(doc);
  const name = targetKeyOf(doc);
  const own = apiKeyVerifier<Principal>([
    [keys.primary, { name: `${name}/primary`, workspace: doc.workspace, role: "user" }],
    [keys.secondary, { name: `${name}/secondary`, workspace: doc.workspace, role: "user" }],
  ]);
  return async (key) => (await verifyKey(key)) ?? own(key);
}
