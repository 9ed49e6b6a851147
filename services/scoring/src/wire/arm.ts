// Microsoft.MachineLearning/webServices (api-version 2017-01-01): the resource's shape, read with
// property names matched case-insensitively (the reference examples mix `AssetId`/`assetId`), and
// written back with exact JSON types and without secrets.
import type { JsonObject, TargetDoc } from "../documents.js";
import { armError } from "../errors.js";

/** api-versions this host answers; the generated clients of both send one of them. */
export const ARM_API_VERSIONS = ["2017-01-01", "2016-05-01-preview"] as const;

/** The resource type. */
export const ARM_TYPE = "Microsoft.MachineLearning/webServices";

/** The suffix that names the trained-model asset. */
export const TRAINED_MODEL_SUFFIX = "[trained model]";

type Shape =
  | { readonly kind: "object"; readonly fields: Readonly<Record<string, Shape>> }
  | { readonly kind: "map"; readonly of: Shape }
  | { readonly kind: "array"; readonly of: Shape }
  | { readonly kind: "boolean" }
  | { readonly kind: "number" }
  | { readonly kind: "opaque" };

/** A value kept exactly as given. */
const opaque: Shape = { kind: "opaque" };
const bool: Shape = { kind: "boolean" };
const num: Shape = { kind: "number" };
const obj = (fields: Record<string, Shape>): Shape => ({ kind: "object", fields });
const map = (of: Shape): Shape => ({ kind: "map", of });
const arr = (of: Shape): Shape => ({ kind: "array", of });

const blobLocation = obj({ uri: opaque, credentials: opaque });
const columnSpec = obj({ type: opaque, format: opaque, enum: opaque, "x-ms-isnullable": bool, "x-ms-isordered": bool });
const tableSpec = obj({ title: opaque, description: opaque, type: opaque, format: opaque, properties: map(columnSpec) });
const ioSpec = obj({ title: opaque, description: opaque, type: opaque, properties: map(tableSpec) });
const parameter = obj({ value: opaque, certificateThumbprint: opaque });
const asset = obj({
  name: opaque,
  type: opaque,
  id: opaque,
  locationInfo: blobLocation,
  inputPorts: map(obj({ type: opaque })),
  outputPorts: map(obj({ type: opaque })),
  metadata: map(opaque),
  parameters: arr(obj({ name: opaque, parameterType: opaque, modeValuesInfo: opaque })),
});
const properties = obj({
  title: opaque,
  description: opaque,
  createdOn: opaque,
  modifiedOn: opaque,
  provisioningState: opaque,
  keys: obj({ primary: opaque, secondary: opaque }),
  readOnly: bool,
  swaggerLocation: opaque,
  exposeSampleData: bool,
  realtimeConfiguration: obj({ maxConcurrentCalls: num }),
  diagnostics: obj({ level: opaque, expiry: opaque }),
  storageAccount: obj({ name: opaque, key: opaque }),
  machineLearningWorkspace: obj({ id: opaque }),
  commitmentPlan: obj({ id: opaque }),
  input: ioSpec,
  output: ioSpec,
  exampleRequest: obj({ inputs: map(opaque), globalParameters: map(opaque) }),
  assets: map(asset),
  parameters: map(obj({ type: opaque, description: opaque, format: opaque, enum: opaque })),
  payloadsInBlobStorage: bool,
  payloadsLocation: blobLocation,
  packageType: opaque,
  package: obj({
    nodes: map(obj({ assetId: opaque, inputId: opaque, outputId: opaque, parameters: map(parameter) })),
    edges: arr(obj({ sourceNodeId: opaque, sourcePortId: opaque, targetNodeId: opaque, targetPortId: opaque })),
    graphParameters: map(obj({ description: opaque, type: opaque, links: arr(obj({ nodeId: opaque, parameterKey: opaque })) })),
  }),
});
const resource = obj({ id: opaque, name: opaque, type: opaque, location: opaque, tags: map(opaque), properties });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function canonical(value: unknown, shape: Shape, path: string): unknown {
  switch (shape.kind) {
    case "opaque":
      return value;
    case "boolean":
      if (value === "true" || value === "True") return true;
      if (value === "false" || value === "False") return false;
      if (value !== null && value !== undefined && typeof value !== "boolean") throw armError("InvalidRequestContent", `'${path}' must be a boolean.`);
      return value;
    case "number":
      if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
      if (value !== null && value !== undefined && typeof value !== "number") throw armError("InvalidRequestContent", `'${path}' must be a number.`);
      return value;
    case "array":
      if (!Array.isArray(value)) return value;
      return value.map((item, i) => canonical(item, shape.of, `${path}[${i}]`));
    case "map": {
      if (!isRecord(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = canonical(item, shape.of, `${path}.${key}`);
      return out;
    }
    case "object": {
      if (!isRecord(value)) return value;
      const byLower = new Map(Object.keys(shape.fields).map((name) => [name.toLowerCase(), name]));
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const name = byLower.get(key.toLowerCase());
        if (name === undefined) out[key] = item;
        else out[name] = canonical(item, shape.fields[name] as Shape, path === "" ? name : `${path}.${name}`);
      }
      return out;
    }
  }
}

/** A request body with every known property name in its canonical case and booleans/numbers as such. */
export function canonicalResource(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw armError("InvalidRequestContent", "The request content must be a JSON object (a WebService resource).");
  return canonical(body, resource, "") as Record<string, unknown>;
}

/**
 * RFC 7396 merge of a PATCH into a definition: objects merge key by key, `null` deletes, anything
 * else replaces (arrays too).
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** The trained-model asset of a definition: a `Resource` whose name ends in `[trained model]`. */
export function trainedModelAsset(properties: JsonObject): { key: string; name: string; uri: string | undefined } | undefined {
  const assets = properties["assets"];
  if (!isRecord(assets)) return undefined;
  for (const [key, value] of Object.entries(assets)) {
    if (!isRecord(value)) continue;
    const name = value["name"];
    const type = value["type"];
    if (typeof name !== "string" || !name.trim().endsWith(TRAINED_MODEL_SUFFIX)) continue;
    if (typeof type === "string" && type.toLowerCase() !== "resource") continue;
    const info = value["locationInfo"];
    const uri = isRecord(info) && typeof info["uri"] === "string" ? info["uri"] : undefined;
    return { key, name, uri };
  }
  return undefined;
}

/** Secrets split off a definition: keys and the storage key are kept sealed, never in `properties`. */
export function splitSecrets(properties: JsonObject): {
  properties: JsonObject;
  keys?: { primary?: string; secondary?: string };
  storageKey?: string;
} {
  const out: JsonObject = { ...properties };
  const result: { properties: JsonObject; keys?: { primary?: string; secondary?: string }; storageKey?: string } = { properties: out };
  const keys = out["keys"];
  delete out["keys"];
  if (isRecord(keys)) {
    const k: { primary?: string; secondary?: string } = {};
    if (typeof keys["primary"] === "string" && keys["primary"] !== "") k.primary = keys["primary"];
    if (typeof keys["secondary"] === "string" && keys["secondary"] !== "") k.secondary = keys["secondary"];
    if (k.primary !== undefined || k.secondary !== undefined) result.keys = k;
  }
  const storage = out["storageAccount"];
  if (isRecord(storage)) {
    const { key, ...rest } = storage;
    out["storageAccount"] = rest;
    if (typeof key === "string" && key !== "") result.storageKey = key;
  }
  for (const computed of ["provisioningState", "createdOn", "modifiedOn", "swaggerLocation"]) delete out[computed];
  return result;
}

/** The ARM id of a web service. */
export function armResourceId(subscription: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/${ARM_TYPE}/${name}`;
}

/** What a GET (and PUT/PATCH) answers: the definition with computed fields, never keys or the storage key. */
export function armResourceJson(
  doc: TargetDoc,
  publicUrl: string,
  view: { properties: JsonObject; location: string; tags: Record<string, string>; provisioningState: string },
): Record<string, unknown> {
  const arm = doc.arm;
  if (arm === undefined) throw new Error(`target ${doc.id} is not a new web service`);
  const properties: Record<string, unknown> = { ...view.properties };
  const realtime = isRecord(properties["realtimeConfiguration"]) ? properties["realtimeConfiguration"] : {};
  properties["realtimeConfiguration"] = { ...realtime, maxConcurrentCalls: doc.maxConcurrentCalls };
  properties["packageType"] = "Graph";
  properties["provisioningState"] = view.provisioningState;
  properties["createdOn"] = arm.createdOn;
  properties["modifiedOn"] = arm.modifiedOn;
  properties["swaggerLocation"] = `${publicUrl}/subscriptions/${arm.subscription}/services/${doc.id}/swagger.json`;
  properties["readOnly"] = properties["readOnly"] === true;
  properties["exposeSampleData"] = properties["exposeSampleData"] === true;
  properties["payloadsInBlobStorage"] = properties["payloadsInBlobStorage"] === true;
  if (!isRecord(properties["diagnostics"])) properties["diagnostics"] = { level: "None" };
  if (isRecord(properties["storageAccount"])) {
    const { key: _key, ...rest } = properties["storageAccount"];
    properties["storageAccount"] = rest;
  }
  delete properties["keys"];
  return {
    id: armResourceId(arm.subscription, arm.resourceGroup, arm.name),
    name: arm.name,
    type: ARM_TYPE,
    location: view.location,
    tags: view.tags,
    properties,
  };
}

/** The `properties.input` schema ARM shows for an input schema. */
export function armInputSchema(columns: readonly { name: string; kind: "numeric" | "categorical" }[]): JsonObject {
  const props: Record<string, unknown> = {};
  for (const column of columns) {
    props[column.name] = column.kind === "numeric" ? { type: "Number", format: "Double", "x-ms-isnullable": true } : { type: "String", "x-ms-isnullable": true };
  }
  return { type: "object", properties: { input1: { type: "object", properties: props } } };
}

/** Reads an input schema back from `properties.input` (`Number`/`Integer`/`Boolean` → numeric, else categorical). */
export function inputColumnsFromArm(input: unknown): Array<{ name: string; kind: "numeric" | "categorical" }> | undefined {
  if (!isRecord(input) || !isRecord(input["properties"])) return undefined;
  const first = Object.values(input["properties"])[0];
  if (!isRecord(first) || !isRecord(first["properties"])) return undefined;
  return Object.entries(first["properties"]).map(([name, spec]) => {
    const type = isRecord(spec) && typeof spec["type"] === "string" ? spec["type"].toLowerCase() : "string";
    return { name, kind: type === "number" || type === "integer" ? "numeric" : "categorical" };
  });
}
