// The classic management API's shapes (management.azureml.net): Endpoint, WebService, PUT/PATCH bodies.
import { z } from "zod";
import type { TargetDoc, WebServiceDoc } from "../documents.js";
import { managementError } from "../errors.js";

/** Endpoint names: at most 24 lowercase letters and digits, hyphens allowed except first and last. */
export const ENDPOINT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$/;

/** The endpoint every classic web service is created with. */
export const DEFAULT_ENDPOINT_NAME = "default";

/** Most endpoints one web service may have (the classic limit). */
export const MAX_ENDPOINTS = 10_000;

/** Throws 400 `InvalidEndpointName` unless `name` follows the classic rules. */
export function checkEndpointName(name: string): void {
  if (!ENDPOINT_NAME.test(name)) {
    throw managementError(
      "InvalidEndpointName",
      `Endpoint name '${name}' is invalid: use at most 24 lowercase letters, digits and hyphens, not starting or ending with a hyphen.`,
      "name",
    );
  }
}

/** Low throttling caps concurrency at 4; High allows 1–200 (default 20). */
export function resolveConcurrency(throttleLevel: "Low" | "High", requested: number | undefined): number {
  if (throttleLevel === "Low") return Math.min(requested ?? 4, 4);
  return requested ?? 20;
}

const ThrottleLevel = z.preprocess((v) => (typeof v === "string" ? capitalize(v) : v), z.enum(["Low", "High"]));
const TraceLevel = z.preprocess((v) => (typeof v === "string" ? capitalize(v) : v), z.enum(["None", "Error", "All"]));
const Concurrency = z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), z.number().int().min(1).max(200));

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1).toLowerCase();
}

/** PUT endpoint body: `{Description, ThrottleLevel, MaxConcurrentCalls}` (extra fields such as PreventUpdate are tolerated). */
export const CreateEndpointBody = z.looseObject({
  Description: z.string().max(2000).nullish(),
  ThrottleLevel: ThrottleLevel.nullish(),
  MaxConcurrentCalls: Concurrency.nullish(),
  DiagnosticsTraceLevel: TraceLevel.nullish(),
});
export type CreateEndpointBody = z.infer<typeof CreateEndpointBody>;

/** A resource location of a PATCH: BaseLocation + RelativeLocation + SasBlobToken. */
export const ResourceLocation = z.looseObject({
  BaseLocation: z.string().min(1),
  RelativeLocation: z.string().min(1),
  SasBlobToken: z.string().nullish(),
});

/**
 * Run identity a Retrain promoter adds to a PATCH (classic clients send none): the run, its
 * sequence in its pipeline, the model id, and whether this is a promotion or an explicit rollback.
 */
export const RetrainExtension = z.object({
  runId: z.string().min(1).max(128).optional(),
  runSequence: z.number().int().nonnegative().optional(),
  pipeline: z.string().min(1).max(128).optional(),
  modelId: z.string().min(1).max(128).optional(),
  reason: z.enum(["promotion", "rollback"]).optional(),
});
export type RetrainExtension = z.infer<typeof RetrainExtension>;

/** PATCH endpoint body: `Resources` (trained models) and/or settings. */
export const PatchEndpointBody = z.looseObject({
  Resources: z
    .array(z.looseObject({ Name: z.string(), Location: ResourceLocation }))
    .min(1)
    .nullish(),
  Description: z.string().max(2000).nullish(),
  ThrottleLevel: ThrottleLevel.nullish(),
  MaxConcurrentCalls: Concurrency.nullish(),
  DiagnosticsTraceLevel: TraceLevel.nullish(),
  Retrain: RetrainExtension.nullish(),
});
export type PatchEndpointBody = z.infer<typeof PatchEndpointBody>;

/** Refresh body: `{"OverwriteResources": "True"}` (a C# bool as text) or a JSON boolean. */
export const RefreshBody = z.looseObject({
  OverwriteResources: z.union([z.boolean(), z.string().transform((s) => s.trim().toLowerCase() === "true")]).nullish(),
});

/** Where a classic endpoint's resources are shown: a fresh read URL of the own model copy. */
export interface ResourceLocationJson {
  BaseLocation: string;
  RelativeLocation: string;
  SasBlobToken: string;
}

/** The `Endpoint` object of the classic management API. */
export function endpointJson(
  doc: TargetDoc,
  keys: { primary: string; secondary: string },
  publicUrl: string,
  location: ResourceLocationJson | undefined,
): Record<string, unknown> {
  const classic = doc.classic;
  const webServiceId = classic?.webServiceId ?? "";
  return {
    Name: classic?.endpointName ?? "",
    Description: doc.description,
    CreationTime: doc.createdAt,
    WorkspaceId: doc.workspace,
    WebServiceId: webServiceId,
    HelpLocation: `${publicUrl}/apihelp/workspaces/${doc.workspace}/webservices/${webServiceId}/endpoints/${doc.id}`,
    PrimaryKey: keys.primary,
    SecondaryKey: keys.secondary,
    ApiLocation: apiLocation(publicUrl, doc),
    Version: doc.model?.since ?? doc.createdAt,
    PreventUpdate: false,
    SampleDataEnabled: false,
    MaxConcurrentCalls: doc.maxConcurrentCalls,
    DiagnosticsTraceLevel: doc.diagnosticsTraceLevel,
    ThrottleLevel: doc.throttleLevel,
    Resources: doc.training
      ? []
      : [{ Name: doc.resourceName, Kind: "TrainedModel", Location: location ?? { BaseLocation: "", RelativeLocation: "", SasBlobToken: "" } }],
  };
}

/** `ApiLocation`: this host's base URL + `/workspaces/{ws}/services/{guid}` (classic) or `/subscriptions/{sub}/services/{guid}` (new). */
export function apiLocation(publicUrl: string, doc: TargetDoc): string {
  return doc.kind === "new" && doc.arm !== undefined
    ? `${publicUrl}/subscriptions/${doc.arm.subscription}/services/${doc.id}`
    : `${publicUrl}/workspaces/${doc.workspace}/services/${doc.id}`;
}

/** The `WebService` object: `{Id, Name, Description, CreationTime, WorkspaceId, DefaultEndpointName, EndpointCount}`. */
export function webServiceJson(doc: WebServiceDoc, endpointCount: number): Record<string, unknown> {
  return {
    Id: doc.id,
    Name: doc.name,
    Description: doc.description,
    CreationTime: doc.createdAt,
    WorkspaceId: doc.workspace,
    DefaultEndpointName: doc.defaultEndpointName,
    EndpointCount: endpointCount,
  };
}
