import { ulid } from "@retrain/contracts";
import { HttpError, assertWorkspaceAccess, type Principal } from "@retrain/service-kit";
import { z } from "zod";
import { runTraceContext, type IntakeDeps, type RunAccepted } from "../intake.js";
import { workspaceOf, type StoredPipeline } from "../pipelines.js";

/** Body of `POST /v1/pipelines/{name}/runs`: re-run the dataset of `runId`, or the latest. */
export const RerunRequest = z.object({ runId: z.string().min(1).max(64).optional() }).strict();
export type RerunRequest = z.output<typeof RerunRequest>;

/** An explicit re-run: always a new run (trigger `rerun`) on the latest dataset or a given run's. */
export async function rerun(pipeline: StoredPipeline, request: RerunRequest, principal: Principal, deps: IntakeDeps): Promise<RunAccepted> {
  assertWorkspaceAccess(principal, workspaceOf(pipeline), "pipeline");
  let dataset;
  if (request.runId !== undefined) {
    const run = await deps.runs.run(pipeline.name, request.runId);
    if (run === undefined) throw new HttpError(404, "RunNotFound", `Run '${request.runId}' of pipeline '${pipeline.name}' was not found.`);
    dataset = run.dataset;
  } else {
    dataset = (await deps.runs.state(pipeline.name))?.latest?.dataset;
    if (dataset === undefined) throw new HttpError(409, "NoDataset", `Pipeline '${pipeline.name}' has no dataset yet.`);
  }
  const result = await deps.runs.start({
    pipeline,
    runId: ulid(),
    dataset,
    trigger: { kind: "rerun", by: `key:${principal.name}` },
    kind: "repeat",
    ...runTraceContext(),
  });
  if (result.outcome === "held") return { held: true, pipeline: pipeline.name, triggerId: result.triggerId };
  if (result.outcome !== "started") throw new Error("unreachable: a re-run always starts a run (or is held)");
  return { runId: result.runId, runSequence: result.runSequence, deduplicated: false };
}
