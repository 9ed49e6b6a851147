import { z } from "zod";
import { BES_STATUS_CODES } from "./wire.js";

const Location = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("store"), name: z.string() }),
  z.object({ kind: z.literal("azure"), connectionString: z.string(), container: z.string(), blob: z.string() }),
  z.object({ kind: z.literal("url"), url: z.string() }),
]);

/** An output as written: where, and (for the own store) which version. */
export const JobResult = z.object({
  location: Location,
  contentType: z.string(),
  size: z.number().int().nonnegative(),
  etag: z.string(),
  sha256: z.string().optional(),
});
export type JobResult = z.infer<typeof JobResult>;

/**
 * A BES job as stored (one JSON document, updated by compare-and-set). Its `outbox` holds the events
 * its last state change caused, written in the same write and relayed after; `queued` records that
 * the start command was published.
 */
export const JobDocument = z.object({
  version: z.literal(1),
  id: z.string(),
  host: z.enum(["trainer", "scoring"]),
  workspace: z.string(),
  service: z.string(),
  status: z.enum(BES_STATUS_CODES),
  createdAt: z.string(),
  startRequestedAt: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  /** Worker attempts so far (a crashed worker's job is retried by another). */
  attempts: z.number().int().nonnegative(),
  inputs: z.record(z.string(), Location),
  outputs: z.record(z.string(), Location),
  globalParameters: z.record(z.string(), z.string()),
  /** The run this job serves, when started by DataArrived; its data travels here for the executor. */
  runId: z.string().optional(),
  run: z.unknown().optional(),
  results: z.record(z.string(), JobResult).optional(),
  /** Failure text for `Details`. */
  details: z.string().optional(),
  failure: z.object({ code: z.string(), message: z.string(), location: z.string().optional() }).optional(),
  /** What the executor reported (metrics, durations), for the registry and people. */
  summary: z.record(z.string(), z.unknown()).optional(),
  /** Encoded CloudEvents not yet published. */
  outbox: z.array(z.unknown()),
});
export type JobDocument = z.infer<typeof JobDocument>;

/** Parses a stored job (for readJson/updateJson). */
export function parseJob(value: unknown): JobDocument {
  return JobDocument.parse(value);
}
