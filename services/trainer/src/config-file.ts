import { z } from "zod";
import type { Trainer } from "./app.js";
import { TrainingServiceDefinition } from "./training-services.js";

/** The trainer's part of retrain.yaml: training web services to create (or update) at start. */
export const TrainerFileSection = z.object({
  trainingServices: z
    .array(TrainingServiceDefinition.extend({ workspace: z.string().min(1), name: z.string().min(1) }))
    .default([]),
});
export type TrainerFileSection = z.output<typeof TrainerFileSection>;

/** Creates or updates the configured training web services. */
export async function applyTrainerSection(trainer: Trainer, section: TrainerFileSection): Promise<void> {
  for (const { workspace, name, ...definition } of section.trainingServices) {
    await trainer.services.put(workspace, name, definition);
  }
}
