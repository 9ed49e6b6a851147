import { HttpError, type Principal } from "@retrain/service-kit";
import { z } from "zod";
import { ingestDataset, type IntakeDeps, type RunAccepted } from "../intake.js";
import { workspaceOf, type StoredPipeline } from "../pipelines.js";
import { openRemoteDataset } from "../remote-source.js";

/** One event of the Event Grid schema (the fields ingestion reads). */
const EventGridEvent = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  subject: z.string(),
  eventTime: z.string().optional(),
  topic: z.string().optional(),
  data: z.unknown(),
});

const ValidationData = z.object({ validationCode: z.string().min(1) });
const BlobCreatedData = z.object({ url: z.url() });
const SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;

export const SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent";
export const BLOB_CREATED = "Microsoft.Storage.BlobCreated";

/** What the webhook answers. */
export type BlobCreatedResponse =
  | { readonly validationResponse: string }
  | {
      readonly runs: ReadonlyArray<RunAccepted & { readonly eventId: string; readonly pipeline: string }>;
      /** Events that matched no pipeline (or were of another type). */
      readonly ignored: readonly string[];
    };

interface BlobCreatedNotice {
  readonly id: string;
  readonly url: string;
  readonly container: string;
  readonly path: string;
}

function malformed(message: string, target: string): HttpError {
  return new HttpError(400, "MalformedEvent", message, { details: [{ code: "InvalidValue", target, message }] });
}

/** The pipelines whose `trigger.blobCreated` covers `container`/`path` and that `principal` may reach. */
export function pipelinesForBlob(pipelines: readonly StoredPipeline[], container: string, path: string, principal: Principal): StoredPipeline[] {
  return pipelines.filter((p) => {
    const trigger = p.trigger?.blobCreated;
    if (trigger === undefined || trigger.container !== container || !path.startsWith(trigger.prefix)) return false;
    return principal.workspace === "*" || principal.workspace === workspaceOf(p);
  });
}

/**
 * `POST /v1/hooks/blob-created` (Event Grid schema, an array): answers the subscription-validation
 * handshake, and starts a run for each `Microsoft.Storage.BlobCreated` whose container and prefix a
 * pipeline names, copying the blob in from `data.url` (allow-listed hosts only). The whole batch is
 * checked before anything runs: one malformed event → 400 `MalformedEvent`, nothing started.
 */
export async function acceptBlobCreated(body: unknown, principal: Principal, deps: IntakeDeps): Promise<BlobCreatedResponse> {
  if (!Array.isArray(body) || body.length === 0) throw malformed("An Event Grid delivery is a non-empty JSON array of events.", "(root)");
  const notices: BlobCreatedNotice[] = [];
  const ignored: string[] = [];
  for (const [i, item] of body.entries()) {
    const parsed = EventGridEvent.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw malformed(`Event ${i} is not an Event Grid event: ${issue?.message ?? "invalid"}.`, [String(i), ...(issue?.path.map(String) ?? [])].join("."));
    }
    const event = parsed.data;
    if (event.eventType === SUBSCRIPTION_VALIDATION) {
      const data = ValidationData.safeParse(event.data);
      if (!data.success) throw malformed("The validation event has no data.validationCode.", `${i}.data.validationCode`);
      return { validationResponse: data.data.validationCode };
    }
    if (event.eventType !== BLOB_CREATED) {
      ignored.push(event.id);
      continue;
    }
    const data = BlobCreatedData.safeParse(event.data);
    if (!data.success) throw malformed("A BlobCreated event needs data.url.", `${i}.data.url`);
    const match = SUBJECT.exec(event.subject);
    if (match === null) throw malformed("The subject is not /blobServices/default/containers/{container}/blobs/{path}.", `${i}.subject`);
    notices.push({ id: event.id, url: data.data.url, container: match[1] ?? "", path: match[2] ?? "" });
  }
  const pipelines = notices.length > 0 ? await deps.pipelines.list() : [];
  const runs: Array<RunAccepted & { eventId: string; pipeline: string }> = [];
  for (const notice of notices) {
    const matched = pipelinesForBlob(pipelines, notice.container, notice.path, principal);
    if (matched.length === 0) ignored.push(notice.id);
    for (const pipeline of matched) {
      const source = await openRemoteDataset(notice.url, deps.remote, "data.url");
      const accepted = await ingestDataset(deps, {
        pipeline,
        source,
        origin: notice.url,
        trigger: { kind: "blob-created", by: `${notice.container}/${notice.path}` },
        ownsSource: true,
      });
      runs.push({ ...accepted, eventId: notice.id, pipeline: pipeline.name });
    }
  }
  return { runs, ignored };
}
