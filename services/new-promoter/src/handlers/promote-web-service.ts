import { setTimeout as sleep } from "node:timers/promises";
import { BlobConflictError, type BlobStore } from "@retrain/blob";
import type { ModelApproved, NewWebServiceTarget } from "@retrain/contracts";
import { isRecord, modelReadLocation, PromotionRefusedError, redact, sampleRowFromSwagger, type PromotionOutcome, type PromotionStore } from "@retrain/promotion";
import type { ArmClient } from "../arm-client.js";

/** What promoting one new web service needs. */
export interface PromoteWebServiceDeps {
  readonly client: ArmClient;
  /** The store the model blob is in, and where the before/after definitions are kept. */
  readonly store: BlobStore;
  readonly promotions: PromotionStore;
  readonly modelUrlLifetimeMs: number;
  readonly smokeTimeoutMs: number;
}

const TRAINED_MODEL_SUFFIX = "[trained model]";

/** The key of the trained-model asset: the one named `resourceName`, else the only `[trained model]` resource. */
function trainedModelAssetKey(properties: Record<string, unknown>, resourceName: string): string | undefined {
  const assets = isRecord(properties["assets"]) ? properties["assets"] : {};
  const entries = Object.entries(assets).filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]));
  const exact = entries.find(([, a]) => a["name"] === resourceName);
  if (exact !== undefined) return exact[0];
  const suffixed = entries.filter(([, a]) => typeof a["name"] === "string" && a["name"].trim().endsWith(TRAINED_MODEL_SUFFIX));
  return suffixed.length === 1 ? suffixed[0]?.[0] : undefined;
}

function assetUri(definition: Record<string, unknown>, key: string): string | undefined {
  const properties = isRecord(definition["properties"]) ? definition["properties"] : {};
  const assets = isRecord(properties["assets"]) ? properties["assets"] : {};
  const asset = assets[key];
  const info = isRecord(asset) ? asset["locationInfo"] : undefined;
  return isRecord(info) && typeof info["uri"] === "string" ? info["uri"] : undefined;
}

/** Keeps a definition as an audit artifact; `once` keeps the first version (a retry must not overwrite "before"). */
async function keep(deps: PromoteWebServiceDeps, approval: ModelApproved, target: NewWebServiceTarget, file: string, definition: unknown, once: boolean): Promise<void> {
  const blob = deps.promotions.artifactName(approval.runId, target, file);
  try {
    await deps.store.put(blob, JSON.stringify(definition, null, 2), { contentType: "application/json", ...(once ? { ifNoneMatch: "*" as const } : {}) });
  } catch (error) {
    if (!(once && error instanceof BlobConflictError)) throw error;
  }
  await deps.promotions.addArtifact(approval.runId, target, file.replace(/\.json$/, ""), blob);
}

/**
 * Moves one new (ARM) web service to the approval's model, as the PowerShell retrain steps do:
 * GET the definition, keep it, point the `[trained model]` asset's `locationInfo.uri` at a fresh
 * read URL of the model, PATCH (or PUT) it with the run headers, wait for the async operation, GET
 * to verify, keep the result, and score one row. Repeating it is safe: the same asset uri is no
 * model change for the scoring host, and the same run's model keeps its revision.
 */
export async function promoteNewWebService(target: NewWebServiceTarget, approval: ModelApproved, deps: PromoteWebServiceDeps): Promise<PromotionOutcome> {
  const { client } = deps;
  const before = await client.get(target);
  await keep(deps, approval, target, "before.json", before, true);
  const properties = isRecord(before["properties"]) ? before["properties"] : {};
  const key = trainedModelAssetKey(properties, target.resourceName);
  if (key === undefined) {
    throw new PromotionRefusedError("ResourceNotFound", `Web service '${target.webService}' has no asset named '${target.resourceName}' (a Resource whose name ends in '${TRAINED_MODEL_SUFFIX}').`);
  }
  const location = await modelReadLocation(deps.store, approval.model.blob.name, deps.modelUrlLifetimeMs);
  const assets = properties["assets"] as Record<string, Record<string, unknown>>;
  const asset = assets[key] as Record<string, unknown>;
  const definition = {
    location: before["location"],
    tags: isRecord(before["tags"]) ? before["tags"] : {},
    properties: {
      ...properties,
      assets: { ...assets, [key]: { ...asset, locationInfo: { ...(isRecord(asset["locationInfo"]) ? asset["locationInfo"] : {}), uri: location.url } } },
    },
  };
  await client.apply(target, definition, {
    runId: approval.runId,
    runSequence: approval.runSequence,
    pipeline: approval.pipeline,
    modelId: approval.model.modelId,
    reason: approval.kind === "rollback" ? "rollback" : "promotion",
  });

  const after = await client.get(target);
  await keep(deps, approval, target, "after.json", after, false);
  const state = isRecord(after["properties"]) ? after["properties"]["provisioningState"] : undefined;
  const uri = assetUri(after, key);
  if (state !== "Succeeded" || uri === undefined || redact(uri) !== redact(location.url)) {
    throw new PromotionRefusedError("VerificationFailed", `After the update web service '${target.webService}' is ${String(state)} with its asset at '${uri === undefined ? "?" : redact(uri)}'.`);
  }
  const served = await client.servedModel(target);
  if (served.modelId !== approval.model.modelId) {
    if (served.pipeline === approval.pipeline && served.runSequence !== null && served.runSequence > approval.runSequence) {
      throw new PromotionRefusedError("Superseded", `Run ${served.runSequence} of pipeline '${approval.pipeline}' replaced the model right after this run's update.`);
    }
    throw new PromotionRefusedError("VerificationFailed", `After the update web service '${target.webService}' serves model '${served.modelId}', not '${approval.model.modelId}'.`);
  }

  const swaggerLocation = isRecord(after["properties"]) && typeof after["properties"]["swaggerLocation"] === "string" ? after["properties"]["swaggerLocation"] : undefined;
  if (swaggerLocation === undefined) throw new PromotionRefusedError("SmokeTestFailed", "The web service shows no swaggerLocation to find its execute URL.");
  await smoke(client, swaggerLocation, await client.primaryKey(target), approval.model.modelId, deps.smokeTimeoutMs);

  const previousModel = await client.previousModel(target, served.revision);
  return { kind: "updated", revision: served.revision, ...(previousModel !== undefined ? { previousModel } : {}) };
}

/** One RRS call with a row built from the web service's Swagger; it must answer with the new model. */
async function smoke(client: ArmClient, swaggerLocation: string, key: string, modelId: string, timeoutMs: number): Promise<void> {
  const row = sampleRowFromSwagger(await client.swagger(swaggerLocation, key));
  if (row === undefined) throw new PromotionRefusedError("SmokeTestFailed", "The web service's swagger.json names no input columns to build a test row from.");
  const executeUrl = swaggerLocation.replace(/\/swagger\.json$/, "/execute");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await client.execute(executeUrl, key, row);
    if (answer.status !== 200) {
      throw new PromotionRefusedError("SmokeTestFailed", `Scoring one row on the updated web service answered ${answer.status} ${answer.code ?? ""}: ${answer.message ?? ""}`.trim());
    }
    if (answer.model?.startsWith(`${modelId}@r`) === true) return;
    if (Date.now() >= deadline) throw new PromotionRefusedError("SmokeTestFailed", `The web service still answers with model '${answer.model ?? "?"}' instead of '${modelId}'.`);
    await sleep(100);
  }
}
