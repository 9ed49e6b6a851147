import { z } from "zod";
import type { Scoring } from "./app.js";
import { createEndpoint } from "./handlers/classic.js";
import { InputColumnBody, ModelSourceBody, publishClassic, PublishBody } from "./handlers/publish.js";
import { CreateEndpointBody } from "./wire/classic.js";

/** A classic predictive web service to create at start (when no service of that name exists). */
export const ConfiguredWebService = z.object({
  workspace: z.string().min(1),
  name: z.string().min(1),
  id: z.string().optional(),
  description: z.string().optional(),
  training: z.boolean().optional(),
  resourceName: z.string().optional(),
  model: ModelSourceBody.optional(),
  inputSchema: z.array(InputColumnBody).optional(),
  /** Endpoints besides `default`, created when missing (settings as the classic PUT body). */
  endpoints: z.array(CreateEndpointBody.extend({ name: z.string().min(1) })).default([]),
});

/** The scoring host's part of retrain.yaml: predictive web services to create at start. */
export const ScoringFileSection = z.object({
  predictiveWebServices: z.array(ConfiguredWebService).default([]),
});
export type ScoringFileSection = z.output<typeof ScoringFileSection>;

/**
 * Creates the configured web services and endpoints that do not exist yet. Existing ones are left
 * as they are: their models and settings are managed over the API from then on.
 */
export async function applyScoringSection(scoring: Scoring, section: ScoringFileSection): Promise<void> {
  const { host } = scoring;
  for (const configured of section.predictiveWebServices) {
    const { workspace, endpoints, ...rest } = configured;
    let service = (await host.docs.listWebServices(workspace)).find((s) => s.name === configured.name);
    if (service === undefined) {
      const body = PublishBody.parse({ ...rest, kind: "classic" });
      service = (await publishClassic(host, workspace, body, "retrain.yaml")).service;
    }
    for (const { name, ...settings } of endpoints) {
      const blob = host.docs.classicTargetBlob(workspace, service.id, name);
      if ((await host.docs.getTarget(blob)) === undefined) await createEndpoint(host, service, name, settings, "retrain.yaml");
    }
  }
}
