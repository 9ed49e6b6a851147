import type { IncomingMessage } from "node:http";
import { HttpError, assertWorkspaceAccess, type Principal } from "@retrain/service-kit";
import { ingestDataset, type IntakeDeps, type RunAccepted } from "../intake.js";
import { workspaceOf, type StoredPipeline } from "../pipelines.js";

const ACCEPTED_TYPES = new Set(["text/csv", "application/octet-stream", "text/plain"]);

/** Who uploads what: the pipeline (already looked up), the caller, and the caller's file name. */
export interface UploadInput {
  readonly pipeline: StoredPipeline;
  readonly principal: Principal;
  /** From `x-retrain-filename` or `?name=`: metadata only. */
  readonly filename?: string;
}

/**
 * `PUT /v1/pipelines/{name}/datasets`: streams the request body into the store as the pipeline's
 * next dataset (see {@link ingestDataset}). 415 for a content type other than CSV or octet-stream,
 * 413 at once when the declared length is over the limit.
 */
export async function acceptUpload(req: IncomingMessage, input: UploadInput, deps: IntakeDeps): Promise<RunAccepted> {
  assertWorkspaceAccess(input.principal, workspaceOf(input.pipeline), "pipeline");
  const mediaType = req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  if (!ACCEPTED_TYPES.has(mediaType)) {
    throw new HttpError(415, "UnsupportedMediaType", "A dataset is uploaded as text/csv or application/octet-stream.");
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > deps.maxDatasetBytes) {
    throw new HttpError(413, "RequestEntityTooLarge", `The dataset exceeds the limit of ${deps.maxDatasetBytes} bytes.`, { headers: { connection: "close" } });
  }
  return ingestDataset(deps, {
    pipeline: input.pipeline,
    source: req,
    trigger: { kind: "upload", by: `key:${input.principal.name}` },
    ...(input.filename !== undefined ? { filename: input.filename } : {}),
  });
}
