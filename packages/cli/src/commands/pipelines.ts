import type { CommandGroup } from "../program.js";
import { formatTime, table } from "../output.js";
import type { PipelineView } from "../wire.js";

function targetText(target: Record<string, unknown>): string {
  return target["kind"] === "new" ? `new:${String(target["webService"])}` : `${String(target["webService"])}/${String(target["endpoint"])}`;
}

function evaluationText(pipeline: PipelineView): string {
  const e = pipeline.evaluation;
  return `${e.mode}${e.primaryMetric !== undefined ? ` ${e.primaryMetric}` : ""}${e.threshold !== undefined ? ` ≥ ${e.threshold}` : ""}`;
}

function stateText(pipeline: PipelineView): string {
  if (pipeline.paused !== true) return "active";
  return `paused${pipeline.heldTriggers !== undefined ? ` (${pipeline.heldTriggers} held)` : ""}`;
}

/** `retrain pipelines`, `retrain pipeline pause|resume <name>` (ingestion). */
export const registerPipelines: CommandGroup = (program, context) => {
  program
    .command("pipelines")
    .summary("list the pipelines (paused or not)")
    .description("list the pipelines: training web service, evaluation, targets, paused or not")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("ingestion").get<{ value: PipelineView[] }>("/v1/pipelines");
      const rows = body.value.map((p) => [
        p.name,
        `${p.trainingWebService.workspace}/${p.trainingWebService.service}`,
        evaluationText(p),
        p.targets.map(targetText).join(", ") || "-",
        p.schedule,
        stateText(p),
      ]);
      ctx.out.result(body, rows.length === 0 ? "no pipelines" : table(rows, ["PIPELINE", "TRAINING SERVICE", "EVALUATION", "TARGETS", "SCHEDULE", "STATE"]));
    });

  const pipeline = program.command("pipeline").description("pause or resume a pipeline");
  pipeline
    .command("pause <name>")
    .description("pause a pipeline: new data is recorded (held), no run starts until it is resumed")
    .action(async (name: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("ingestion").post<PipelineView>(`/v1/pipelines/${encodeURIComponent(name)}/pause`);
      ctx.out.result(body, `pipeline ${name} paused${body.pausedBy !== undefined ? ` by ${body.pausedBy}` : ""}${body.pausedAt !== undefined ? ` at ${formatTime(body.pausedAt)}` : ""}; uploads are held until: retrain pipeline resume ${name}`);
    });
  pipeline
    .command("resume <name>")
    .description("resume a paused pipeline: the triggers held while it was paused start their runs")
    .action(async (name: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("ingestion").post<{ pipeline: PipelineView; started: Array<{ runId: string; runSequence?: number }> }>(
        `/v1/pipelines/${encodeURIComponent(name)}/resume`,
      );
      const started = body.started ?? [];
      ctx.out.result(body, [
        `pipeline ${name} resumed; ${started.length === 0 ? "no held trigger" : `${started.length} held trigger(s) started:`}`,
        ...started.map((run) => `  run ${run.runId}${run.runSequence !== undefined ? ` #${run.runSequence}` : ""}`),
      ]);
    });
};
