import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import { LearnerName } from "@retrain/contracts";
import { z } from "zod";

/**
 * A training web service: the seed's training experiment published as a web service. It names the
 * learner and its parameters, the label and features, how missing values are cleaned, the holdout
 * split, and which BES outputs carry the trained model and the Evaluate Model results.
 */
export const TrainingServiceDefinition = z.object({
  learner: LearnerName,
  parameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  label: z.string().min(1),
  /** Feature columns; default every column but the label. */
  features: z.array(z.string().min(1)).min(1).optional(),
  /** For a two-class label given as text: which value is the positive class. */
  positiveLabel: z.string().optional(),
  /** Clean Missing Data. */
  missing: z.enum(["mean", "median", "mode", "drop"]).default("mean"),
  /** Holdout split for Evaluate Model (a run's plan overrides it). */
  split: z.object({ fraction: z.number().gt(0).lt(1), seed: z.number().int() }).default({ fraction: 0.2, seed: 42 }),
  /** Output names (positional in Studio: output1, output2, … by the order the outputs were added). */
  outputs: z
    .object({ model: z.string().min(1).default("output1"), evaluation: z.string().min(1).default("output2") })
    .default({ model: "output1", evaluation: "output2" }),
  description: z.string().max(1000).optional(),
});
export type TrainingServiceDefinition = z.output<typeof TrainingServiceDefinition>;

/** A stored definition with its identity. */
export const StoredTrainingService = TrainingServiceDefinition.extend({
  workspace: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type StoredTrainingService = z.output<typeof StoredTrainingService>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Training web services of the trainer, persisted under `trainer/services/<workspace>/<name>.json`. */
export class TrainingServices {
  constructor(private readonly store: BlobStore) {}

  #blob(workspace: string, name: string): string {
    return `trainer/services/${workspace}/${name}.json`;
  }

  async get(workspace: string, name: string): Promise<StoredTrainingService | undefined> {
    if (!NAME.test(workspace) || !NAME.test(name)) return undefined;
    return (await readJson(this.store, this.#blob(workspace, name), (v) => StoredTrainingService.parse(v)))?.value;
  }

  /** Creates or replaces a definition; returns it and whether it was new. */
  async put(workspace: string, name: string, definition: TrainingServiceDefinition): Promise<{ service: StoredTrainingService; created: boolean }> {
    if (!NAME.test(name)) throw new RangeError(`invalid training web service name '${name}'`);
    let created = false;
    const result = await updateJson(this.store, this.#blob(workspace, name), (v) => StoredTrainingService.parse(v), (current) => {
      const now = new Date().toISOString();
      created = current === undefined;
      return { ...definition, workspace, name, createdAt: current?.createdAt ?? now, updatedAt: now };
    });
    if (result.value === undefined) throw new Error("unreachable: put always writes");
    return { service: result.value, created };
  }

  async list(workspace: string): Promise<StoredTrainingService[]> {
    const out: StoredTrainingService[] = [];
    for await (const blob of this.store.list(`trainer/services/${workspace}/`)) {
      const value = (await readJson(this.store, blob.name, (v) => StoredTrainingService.parse(v)))?.value;
      if (value !== undefined) out.push(value);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
