import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { isBlobError, validateBlobName } from "@retrain/blob";
import { EventTypes, EventValidationError, parseEvent, type CloudEvent } from "@retrain/contracts";
import { HttpError, assertWorkspaceAccess, type Principal } from "@retrain/service-kit";
import { extractTraceContext, withSpan } from "@retrain/telemetry";
import { ingestDataset, requirePipeline, type IntakeDeps, type RunAccepted } from "../intake.js";
import { workspaceOf } from "../pipelines.js";
import { openRemoteDataset } from "../remote-source.js";

/** The one upstream event ingestion accepts. */
export type DatasetAvailableEvent = CloudEvent<typeof EventTypes.DatasetAvailable>;

const ENVELOPE_ATTRIBUTES = ["specversion", "id", "source", "type", "time", "subject", "dataschema", "traceparent", "tracestate"] as const;

function invalid(message: string, field: string, code = "InvalidCloudEvent"): HttpError {
  return new HttpError(400, code, message, { details: [{ code: "InvalidValue", target: field, message }] });
}

/**
 * Reads a CloudEvent from an HTTP request (CloudEvents HTTP binding): structured mode
 * (`application/cloudevents+json`, the body is the event) or binary mode (`ce-*` headers, the JSON
 * body is `data`), and validates it against the catalog. Only DatasetAvailable is accepted
 * (400 `EventTypeNotAccepted` for any other type); an invalid event is 400 `InvalidCloudEvent`
 * naming the field. `time`, optional in CloudEvents, defaults to now.
 */
export function readDatasetAvailable(headers: IncomingHttpHeaders, body: unknown, now: () => Date): DatasetAvailableEvent {
  const mediaType = headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  let raw: Record<string, unknown>;
  if (mediaType === "application/cloudevents+json") {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("A structured CloudEvent is a JSON object.", "(root)");
    raw = { ...(body as Record<string, unknown>) };
  } else if (mediaType === "application/cloudevents-batch+json") {
    throw new HttpError(415, "UnsupportedMediaType", "Batched CloudEvents are not accepted; send one event per request.");
  } else if (headers["ce-specversion"] !== undefined) {
    if (mediaType !== "application/json") {
      throw new HttpError(415, "UnsupportedMediaType", "The data of a binary-mode CloudEvent must be application/json.");
    }
    raw = { data: body, datacontenttype: "application/json" };
    for (const attribute of ENVELOPE_ATTRIBUTES) {
      const value = headers[`ce-${attribute}`];
      if (typeof value === "string") raw[attribute] = value;
    }
    // The distributed-tracing extension travels as the plain W3C header in binary mode.
    if (raw["traceparent"] === undefined && typeof headers.traceparent === "string") raw["traceparent"] = headers.traceparent;
    if (raw["tracestate"] === undefined && typeof headers.tracestate === "string") raw["tracestate"] = headers.tracestate;
  } else {
    throw invalid("Not a CloudEvent: send application/cloudevents+json, or ce-* headers with a JSON body.", "specversion");
  }
  if (typeof raw["type"] === "string" && raw["type"] !== EventTypes.DatasetAvailable) {
    throw new HttpError(400, "EventTypeNotAccepted", `Events of type '${raw["type"]}' are not accepted here; only ${EventTypes.DatasetAvailable}.`, {
      details: [{ code: "EventTypeNotAccepted", target: "type", message: `only ${EventTypes.DatasetAvailable}` }],
    });
  }
  raw["time"] ??= now().toISOString();
  let event;
  try {
    event = parseEvent(raw);
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    throw new HttpError(400, "InvalidCloudEvent", error.message, {
      details: (error.context.issues ?? [error.message]).map((issue, i) => ({
        code: error.code,
        ...(i === 0 && error.field !== undefined ? { target: error.field } : {}),
        message: issue,
      })),
    });
  }
  if (event.type !== EventTypes.DatasetAvailable) throw invalid(`only ${EventTypes.DatasetAvailable}`, "type", "EventTypeNotAccepted");
  return event;
}

// Other services' documents in the shared store are never datasets, whatever the landing prefixes say
// (each service owns its prefix): a second wall behind the allow-list below.
const PRIVATE_PREFIXES = ["ingestion/", "trainer/", "scoring/", "evaluator/", "registry/", "classic-promoter/", "new-promoter/", "notifier/", "keys/"];

/** The placeholder of a landing prefix that stands for the caller's workspace (`uploads/{workspace}/`). */
export const WORKSPACE_PLACEHOLDER = "{workspace}";

/**
 * Whether a blob under the landing prefixes may be named by `principal`: a prefix with
 * {@link WORKSPACE_PLACEHOLDER} gives each workspace its own (a `*` key any of them).
 */
function inLandingPrefix(name: string, prefixes: readonly string[], principal: Principal): boolean {
  return prefixes.some((prefix) => {
    const at = prefix.indexOf(WORKSPACE_PLACEHOLDER);
    if (at < 0) return name.startsWith(prefix);
    if (principal.workspace === "*") return name.startsWith(prefix.slice(0, at));
    return name.startsWith(prefix.replaceAll(WORKSPACE_PLACEHOLDER, principal.workspace));
  });
}

/**
 * DatasetAvailable → a run: the dataset (a URL on an allowed host, or a blob of the store) is copied in
 * like an upload. Content the pipeline already has (by the declared sha256, or after the copy) → that run.
 */
export async function acceptDatasetAvailable(event: DatasetAvailableEvent, principal: Principal, deps: IntakeDeps): Promise<RunAccepted> {
  const { data } = event;
  const pipeline = await requirePipeline(deps, data.pipeline);
  // Another workspace's pipeline gets exactly the answer of a missing one: no existence leak.
  assertWorkspaceAccess(principal, workspaceOf(pipeline), "pipeline", () => new HttpError(404, "PipelineNotFound", `Pipeline '${data.pipeline}' was not found.`));
  if (data.sha256 !== undefined) {
    const known = await deps.runs.findBySha256(pipeline.name, data.sha256);
    if (known !== undefined) return { ...known, deduplicated: true };
  }
  let source: Readable;
  let origin: string;
  if ("url" in data.dataset) {
    origin = data.dataset.url;
    source = await openRemoteDataset(data.dataset.url, deps.remote, "data.dataset.url");
  } else {
    const name = data.dataset.blobName;
    origin = name;
    // Nameable: a dataset of a pipeline of the caller's workspace, or a blob under a landing prefix
    // (INGESTION_DATASET_PREFIXES); anything else in the shared store is not the caller's to copy.
    const owner = /^ingestion\/datasets\/([^/]+)\//.exec(name)?.[1];
    const ownerPipeline = owner === undefined ? undefined : await deps.pipelines.get(owner);
    const ownDataset = ownerPipeline !== undefined && (principal.workspace === "*" || workspaceOf(ownerPipeline) === principal.workspace);
    const landed = !PRIVATE_PREFIXES.some((p) => name.startsWith(p)) && inLandingPrefix(name, deps.datasetPrefixes, principal);
    try {
      if (!ownDataset && !landed) throw new Error("not nameable");
      validateBlobName(name);
    } catch {
      const where = deps.datasetPrefixes.map((p) => `'${p}'`).join(", ");
      throw invalid(`'${name}' is not a dataset blob of the store: name one under ${where} or a dataset of one of your pipelines.`, "data.dataset.blobName", "BadArgument");
    }
    try {
      source = (await deps.store.get(name)).body;
    } catch (error) {
      if (isBlobError(error, "NotFound")) throw new HttpError(400, "DatasetNotFound", `Blob '${name}' was not found.`);
      throw error;
    }
  }
  const input = {
    pipeline,
    source,
    origin,
    trigger: { kind: "event", by: data.by ?? event.source } as const,
    ownsSource: true,
    ...(data.sha256 !== undefined ? { expectedSha256: data.sha256 } : {}),
  };
  if (event.traceparent === undefined) return ingestDataset(deps, input);
  // The upstream's trace, not the HTTP request's, is the run's: the sender's traceparent parents
  // ingestion's work, and the run (DataArrived) continues from that span.
  const parent = extractTraceContext({ traceparent: event.traceparent, tracestate: event.tracestate });
  return withSpan(`ingest ${EventTypes.DatasetAvailable}`, { kind: "consumer", parent, attributes: { "messaging.message.id": event.id, "retrain.pipeline": pipeline.name } }, () =>
    ingestDataset(deps, input),
  );
}
