import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import { EndpointTarget, EvaluationPolicy, TrainingServiceRef, type RunPlan } from "@retrain/contracts";
import { z } from "zod";
import { CronSyntaxError, parseCron } from "./cron.js";

/**
 * A pipeline's name: also a blob-name segment, so letters, digits, `.`, `_`, `-`, and not ending in
 * `.` (Azure Blob Storage: no path segment may end with a dot).
 */
export const PIPELINE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_-])?$/;

/** Where a pipeline's Event Grid BlobCreated notifications come from. */
export const BlobCreatedTrigger = z.object({
  /** Storage container of the blobs. */
  container: z.string().min(1).max(63),
  /** Blob path prefix inside the container (`""` for all). */
  prefix: z.string().max(1024).default(""),
});
export type BlobCreatedTrigger = z.output<typeof BlobCreatedTrigger>;

/**
 * A pipeline: new data for it retrains its training web service, the evaluation policy judges the
 * model, and approved models go to its targets. What a run does is frozen from it when the run starts.
 */
export const PipelineDefinition = z.object({
  trainingWebService: TrainingServiceRef,
  evaluation: EvaluationPolicy,
  targets: z.array(EndpointTarget).max(1000).default([]),
  /** Holdout split for evaluation. */
  split: z.object({ fraction: z.number().gt(0).lt(1), seed: z.number().int() }).default({ fraction: 0.2, seed: 42 }),
  /** Expected CSV header columns (any order); when given, an upload's header row must have exactly these. */
  columns: z.array(z.string().min(1)).min(1).optional(),
  /** Five-field cron (UTC): re-trains on the latest dataset when it matches. */
  schedule: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      try {
        parseCron(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: error instanceof CronSyntaxError ? error.message : String(error) });
      }
    }),
  trigger: z.object({ blobCreated: BlobCreatedTrigger.optional() }).optional(),
  description: z.string().max(1000).optional(),
});
export type PipelineDefinition = z.output<typeof PipelineDefinition>;

/** A stored pipeline with its identity. */
export const StoredPipeline = PipelineDefinition.extend({
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type StoredPipeline = z.output<typeof StoredPipeline>;

/** The workspace a pipeline belongs to: its training web service's. */
export function workspaceOf(pipeline: PipelineDefinition): string {
  return pipeline.trainingWebService.workspace;
}

/** The plan of a run of `pipeline` with sequence `runSequence`, frozen from the pipeline as it is now. */
export function planFor(pipeline: StoredPipeline, runSequence: number): RunPlan {
  return {
    pipeline: pipeline.name,
    runSequence,
    trainingWebService: pipeline.trainingWebService,
    evaluation: pipeline.evaluation,
    targets: pipeline.targets,
    split: pipeline.split,
  };
}

/** Pipeline definitions, persisted under `ingestion/pipelines/<name>.json`. */
export class Pipelines {
  constructor(private readonly store: BlobStore) {}

  #blob(name: string): string {
    return `ingestion/pipelines/${name}.json`;
  }

  async get(name: string): Promise<StoredPipeline | undefined> {
    if (!PIPELINE_NAME.test(name)) return undefined;
    return (await readJson(this.store, this.#blob(name), (v) => StoredPipeline.parse(v)))?.value;
  }

  /**
   * Creates or replaces a definition; returns it and whether it was new. `authorize` sees the current
   * definition first (a key must not take over another workspace's pipeline) and throws to refuse.
   */
  async put(
    name: string,
    definition: PipelineDefinition,
    authorize: (current: StoredPipeline | undefined) => void = () => undefined,
  ): Promise<{ pipeline: StoredPipeline; created: boolean }> {
    if (!PIPELINE_NAME.test(name)) throw new RangeError(`invalid pipeline name '${name}'`);
    let created = false;
    const result = await updateJson(this.store, this.#blob(name), (v) => StoredPipeline.parse(v), (current) => {
      authorize(current);
      const now = new Date().toISOString();
      created = current === undefined;
      return { ...definition, name, createdAt: current?.createdAt ?? now, updatedAt: now };
    });
    if (result.value === undefined) throw new Error("unreachable: put always writes");
    return { pipeline: result.value, created };
  }

  async list(): Promise<StoredPipeline[]> {
    const out: StoredPipeline[] = [];
    for await (const blob of this.store.list("ingestion/pipelines/")) {
      if (!blob.name.endsWith(".json")) continue;
      const value = (await readJson(this.store, blob.name, (v) => StoredPipeline.parse(v)))?.value;
      if (value !== undefined) out.push(value);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
