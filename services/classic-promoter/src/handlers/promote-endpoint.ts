import { setTimeout as sleep } from "node:timers/promises";
import type { BlobStore } from "@retrain/blob";
import type { ClassicEndpointTarget, ModelApproved } from "@retrain/contracts";
import { modelReadLocation, PromotionRefusedError, sampleRowFromSwagger, type PromotionOutcome } from "@retrain/promotion";
import type { ClassicScoringClient } from "../scoring-client.js";

/** What promoting one classic endpoint needs. */
export interface PromoteEndpointDeps {
  readonly client: ClassicScoringClient;
  /** The store the model blob is in (its read URL is handed to the scoring host). */
  readonly store: BlobStore;
  readonly modelUrlLifetimeMs: number;
  /** How long the smoke call waits for the endpoint to answer with the new model. */
  readonly smokeTimeoutMs: number;
}

/** The endpoint every classic web service has: it tracks the published experiment and is never patched. */
const DEFAULT_ENDPOINT = "default";

/**
 * Moves one classic endpoint to the approval's model: refuse the default endpoint, find the web
 * service by name, create the endpoint when the target asks for it, PATCH its trained-model
 * resource with a fresh read URL and the run identity, verify (the endpoint's served model and
 * resource), and score one row. Repeating it is safe: the scoring host answers the same run's model
 * with the revision it already has.
 */
export async function promoteClassicEndpoint(target: ClassicEndpointTarget, approval: ModelApproved, deps: PromoteEndpointDeps): Promise<PromotionOutcome> {
  const { client } = deps;
  const { workspace, endpoint } = target;
  if (endpoint === DEFAULT_ENDPOINT) {
    throw new PromotionRefusedError("DefaultEndpointRefused", "The default endpoint tracks the published experiment and is never retrained; target a non-default endpoint.", { target: endpoint });
  }
  let serviceId = await client.webServiceId(workspace, target.webService);
  let existing = await client.getEndpoint(workspace, serviceId, endpoint);
  if (existing === undefined) {
    // The cached id may belong to a web service deleted and published again under the same name.
    serviceId = await client.webServiceId(workspace, target.webService, true);
    existing = await client.getEndpoint(workspace, serviceId, endpoint);
  }
  if (existing === undefined) {
    if (target.createIfMissing !== true) {
      throw new PromotionRefusedError("EndpointNotFound", `Endpoint '${endpoint}' of web service '${target.webService}' does not exist and the target does not ask to create it.`);
    }
    await client.createEndpoint(workspace, serviceId, endpoint, `Created by Retrain for pipeline '${approval.pipeline}'.`);
  }

  const location = await modelReadLocation(deps.store, approval.model.blob.name, deps.modelUrlLifetimeMs);
  const revision = await client.patchTrainedModel(workspace, serviceId, endpoint, target.resourceName, location, {
    runId: approval.runId,
    runSequence: approval.runSequence,
    pipeline: approval.pipeline,
    modelId: approval.model.modelId,
    reason: approval.kind === "rollback" ? "rollback" : "promotion",
  });

  // Verify: the endpoint serves this run's model, and its trained-model resource is that model's copy.
  const served = await client.servedModel(workspace, serviceId, endpoint);
  if (served.modelId !== approval.model.modelId) {
    if (served.pipeline === approval.pipeline && served.runSequence !== null && served.runSequence > approval.runSequence) {
      throw new PromotionRefusedError("Superseded", `Run ${served.runSequence} of pipeline '${approval.pipeline}' replaced the model right after this run's update (revision ${revision}).`);
    }
    throw new PromotionRefusedError("VerificationFailed", `After the update (revision ${revision}) the endpoint serves model '${served.modelId}', not '${approval.model.modelId}'.`);
  }
  const after = await client.getEndpoint(workspace, serviceId, endpoint);
  const resource = after?.resources.find((r) => r.name === target.resourceName);
  if (after === undefined || resource === undefined || !resource.relativeLocation.includes(served.sha256)) {
    throw new PromotionRefusedError("VerificationFailed", `Endpoint '${endpoint}' does not show resource '${target.resourceName}' pointing at the new model.`);
  }

  await smoke(client, after.apiLocation, after.primaryKey, approval.model.modelId, deps.smokeTimeoutMs);

  const entry = (await client.history(workspace, serviceId, endpoint)).find((e) => e.revision === served.revision);
  const from = entry?.from ?? undefined;
  return {
    kind: "updated",
    revision: served.revision,
    ...(from !== undefined
      ? { previousModel: { modelId: from.modelId, ...(from.runId !== undefined ? { runId: from.runId } : {}), ...(from.runSequence !== undefined ? { runSequence: from.runSequence } : {}) } }
      : {}),
  };
}

/** One RRS call with a row built from the endpoint's schema; it must answer with the new model. */
async function smoke(client: ClassicScoringClient, apiLocation: string, key: string, modelId: string, timeoutMs: number): Promise<void> {
  const row = sampleRowFromSwagger(await client.swagger(apiLocation, key));
  if (row === undefined) throw new PromotionRefusedError("SmokeTestFailed", "The endpoint's swagger.json names no input columns to build a test row from.");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await client.execute(apiLocation, key, row);
    if (answer.status !== 200) {
      throw new PromotionRefusedError("SmokeTestFailed", `Scoring one row on the updated endpoint answered ${answer.status} ${answer.code ?? ""}: ${answer.message ?? ""}`.trim());
    }
    if (answer.model?.startsWith(`${modelId}@r`) === true) return;
    // Another replica may not have loaded the model yet: they converge within their sync interval.
    if (Date.now() >= deadline) {
      throw new PromotionRefusedError("SmokeTestFailed", `The endpoint still answers with model '${answer.model ?? "?"}' instead of '${modelId}'.`);
    }
    await sleep(100);
  }
}
