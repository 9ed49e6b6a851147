import { z } from "zod";
import type { Ingestion } from "./app.js";
import { PipelineDefinition } from "./pipelines.js";

/** Ingestion's part of retrain.yaml: pipelines to create (or update) at start. */
export const IngestionFileSection = z.object({
  pipelines: z.array(PipelineDefinition.extend({ name: z.string().min(1) })).default([]),
});
export type IngestionFileSection = z.output<typeof IngestionFileSection>;

/** Creates or updates the configured pipelines (a changed pipeline affects only later runs). */
export async function applyIngestionSection(ingestion: Ingestion, section: IngestionFileSection): Promise<void> {
  for (const { name, ...definition } of section.pipelines) {
    await ingestion.pipelines.put(name, definition);
  }
}
