// Publishing a predictive web service from a trained model (Retrain's own API; a CLI and
// retrain.yaml use it): classic (with its default endpoint) or new (an ARM resource).
import { z } from "zod";
import type { RunIdentity, TargetDoc, WebServiceDoc } from "../documents.js";
import { managementError } from "../errors.js";
import { ModelRejectedError, type PreparedModel, type ScoringHost } from "../host.js";
import type { InputColumn } from "../model-runtime.js";
import type { ModelSource } from "../model-source.js";
import { DEFAULT_ENDPOINT_NAME, resolveConcurrency } from "../wire/classic.js";
import { newEndpointDoc } from "./classic.js";

const NUMERIC_TYPES = new Set(["numeric", "number", "double", "float", "integer", "int", "int32", "int64", "long", "decimal"]);
const TEXT_TYPES = new Set(["categorical", "string", "text", "boolean", "bool", "category"]);

/** An input column as a client writes it: a name and a type (`numeric`/`number`/`Double`/… or `categorical`/`string`/…). */
export const InputColumnBody = z
  .object({ name: z.string().min(1).max(256), type: z.string().optional(), kind: z.string().optional() })
  .transform((value, ctx): InputColumn => {
    const type = (value.kind ?? value.type ?? "").toLowerCase();
    if (NUMERIC_TYPES.has(type)) return { name: value.name, kind: "numeric" };
    if (TEXT_TYPES.has(type)) return { name: value.name, kind: "categorical" };
    ctx.issues.push({ code: "custom", input: value, message: `column '${value.name}' has an unknown type '${type}' (use numeric or categorical)` });
    return z.NEVER;
  });

/** Where the initial model is: a blob of the own store, a SAS location, or a URL. */
export const ModelSourceBody = z.union([
  z.object({ blob: z.string().min(1) }),
  z.object({ location: z.object({ BaseLocation: z.string().min(1), RelativeLocation: z.string().min(1), SasBlobToken: z.string().nullish() }) }),
  z.object({ uri: z.string().url() }),
]);
export type ModelSourceBody = z.infer<typeof ModelSourceBody>;

const Name = z.string().min(1).max(256).regex(/^[^\u0000-\u001f\u007f]+$/, "no control characters"); // eslint-disable-line no-control-regex

/** `POST /v1/workspaces/{ws}/webservices`. */
export const PublishBody = z.object({
  name: Name,
  description: z.string().max(2000).optional(),
  kind: z.enum(["classic", "new"]).default("classic"),
  /** A training web service: no model, no RRS, and PATCH answers "no updatable resources". */
  training: z.boolean().default(false),
  /** A fixed id for a classic web service (default: a new GUID). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/).optional(),
  /** The trained model resource name. Default `<name> [trained model]`. */
  resourceName: z.string().min(1).max(256).optional(),
  model: ModelSourceBody.optional(),
  modelId: z.string().min(1).max(128).optional(),
  run: z.object({ runId: z.string().min(1).optional(), runSequence: z.number().int().nonnegative().optional(), pipeline: z.string().min(1).optional() }).optional(),
  /** Default: the model's feature schema inputs. */
  inputSchema: z.array(InputColumnBody).min(1).optional(),
  /** Settings of the default endpoint (classic) or the service (new). */
  endpoint: z
    .object({
      Description: z.string().max(2000).optional(),
      ThrottleLevel: z.enum(["Low", "High"]).optional(),
      MaxConcurrentCalls: z.number().int().min(1).max(200).optional(),
    })
    .optional(),
  // New web services: where the ARM resource lives.
  subscription: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional(),
  resourceGroup: z.string().regex(/^[-\w.()]{1,90}$/).optional(),
  location: z.string().min(1).max(64).optional(),
});
export type PublishBody = z.infer<typeof PublishBody>;

/** The model source of a publish body. */
export function modelSourceOf(body: ModelSourceBody): ModelSource {
  if ("blob" in body) return { kind: "store", blob: body.blob };
  if ("uri" in body) return { kind: "uri", uri: body.uri };
  return { kind: "reference", BaseLocation: body.location.BaseLocation, RelativeLocation: body.location.RelativeLocation, SasBlobToken: body.location.SasBlobToken ?? undefined };
}

/** Prepares the initial model and decides the input schema (given, checked; or the model's own). */
export async function prepareInitialModel(
  host: ScoringHost,
  body: Pick<PublishBody, "model" | "inputSchema">,
): Promise<{ prepared: PreparedModel; inputSchema: InputColumn[] }> {
  if (body.model === undefined) throw managementError("BadArgument", "A predictive web service needs an initial model ('model').", "model");
  try {
    const prepared = await host.prepareModel(modelSourceOf(body.model), body.inputSchema);
    return { prepared, inputSchema: body.inputSchema ?? [...prepared.model.inputColumns] };
  } catch (error) {
    if (error instanceof ModelRejectedError) throw managementError(error.code, error.message, "model");
    throw error;
  }
}

/** What publishing a classic web service made. */
export interface PublishedClassic {
  readonly service: WebServiceDoc;
  readonly endpoint: TargetDoc;
}

/** Creates a classic web service and its default endpoint (serving the initial model, revision 1). */
export async function publishClassic(host: ScoringHost, workspace: string, body: PublishBody, caller: string): Promise<PublishedClassic> {
  const { prepared, inputSchema } = body.training ? { prepared: undefined, inputSchema: body.inputSchema ?? [] } : await prepareInitialModel(host, body);
  const existing = (await host.docs.listWebServices(workspace)).find((s) => s.name === body.name);
  if (existing !== undefined) throw managementError("WebServiceExists", `Workspace '${workspace}' already has a web service named '${body.name}' (${existing.id}).`);
  const service: WebServiceDoc = {
    version: 1,
    id: body.id ?? host.newId(),
    workspace,
    name: body.name,
    description: body.description ?? "",
    createdAt: new Date().toISOString(),
    training: body.training,
    resourceName: body.resourceName ?? `${body.name} [trained model]`,
    inputSchema,
    defaultEndpointName: DEFAULT_ENDPOINT_NAME,
  };
  if (!(await host.docs.createWebService(service))) throw managementError("WebServiceExists", `A web service with id '${service.id}' exists already.`);
  const throttleLevel = body.endpoint?.ThrottleLevel ?? "Low";
  const run: RunIdentity | undefined = body.run;
  const endpoint = newEndpointDoc(
    host,
    service,
    DEFAULT_ENDPOINT_NAME,
    {
      description: body.endpoint?.Description ?? "",
      throttleLevel,
      maxConcurrentCalls: resolveConcurrency(throttleLevel, body.endpoint?.MaxConcurrentCalls),
      diagnosticsTraceLevel: "None",
    },
    prepared === undefined
      ? undefined
      : {
          ...prepared.candidate,
          ...(body.modelId !== undefined ? { modelId: body.modelId } : {}),
          ...(run?.runId !== undefined ? { runId: run.runId } : {}),
          ...(run?.runSequence !== undefined ? { runSequence: run.runSequence } : {}),
          ...(run?.pipeline !== undefined ? { pipeline: run.pipeline } : {}),
        },
    caller,
    "publish",
  );
  const blob = host.docs.classicTargetBlob(workspace, service.id, DEFAULT_ENDPOINT_NAME);
  await host.docs.createTarget(blob, endpoint);
  const written = await host.docs.getTarget(blob);
  if (written === undefined) throw new Error(`the default endpoint of ${service.id} vanished right after it was created`);
  await host.install(blob, written.value, written.etag);
  return { service, endpoint: written.value };
}
