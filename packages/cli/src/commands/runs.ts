import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { failOnRunFailure, followRun, outcomeLine, STAGE_HEADER, stageLine } from "../follow.js";
import { formatBytes, formatDuration, formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import type { LineageView, RunSummaryView, RunTimelineView } from "../wire.js";
import { FOLLOW_EXIT_CODES, timeoutMsOf } from "./upload.js";

/** The outcomes `GET /v1/runs?outcome=` filters by. */
export const RUN_OUTCOMES = ["running", "awaiting-approval", "approved", "failed", "rejected", "promoted", "promotion-failed", "cancelled"] as const;

function positiveInteger(text: string | undefined, option: string): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`${option} must be a whole number (got '${text}')`, 2, "BadArgument");
  return text;
}

async function timeline(ctx: CliContext, runId: string): Promise<RunTimelineView> {
  return (await ctx.api("registry").get<RunTimelineView>(`/v1/runs/${encodeURIComponent(runId)}`)).body;
}

/** The pipeline of a run, as the registry knows it (`--pipeline` skips the look-up). */
async function pipelineOf(ctx: CliContext, runId: string, given: string | undefined): Promise<string> {
  return given ?? (await timeline(ctx, runId)).pipeline;
}

function metricsText(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .filter(([name]) => name !== "Threshold")
    .map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(3)}`)
    .join(", ");
}

/** A lineage as labelled lines, one per link of the chain; a missing link shows as "-". */
function lineageLines(l: LineageView): string[] {
  const dash = "-";
  const dataset = l.dataset === null ? dash : [l.dataset.sha256 !== undefined ? `sha256 ${l.dataset.sha256}` : undefined, l.dataset.name, l.dataset.size !== undefined ? formatBytes(l.dataset.size) : undefined].filter((p) => p !== undefined).join("  ");
  const job =
    l.job === null
      ? dash
      : `${l.job.jobId}  ${l.job.learner ?? ""}${l.job.rows !== undefined ? `, ${l.job.rows} rows (${l.job.trainingRows ?? "?"} training, ${l.job.holdoutRows ?? "?"} holdout)` : ""}${l.job.durationMs !== undefined ? `, ${formatDuration(l.job.durationMs)}` : ""}`;
  const model = l.model === null ? dash : `${l.model.modelId}  ${l.model.learner} (${l.model.task})  ${l.model.blob}`;
  const evaluation = l.evaluation === null ? [dash] : [metricsText(l.evaluation.challenger), ...l.evaluation.champions.map((c) => `champion ${c.modelId} on ${c.target}: ${metricsText(c.metrics)}`)];
  const approval = l.approval === null ? dash : `${l.approval.decision}${l.approval.kind !== undefined ? ` (${l.approval.kind})` : ""}${l.approval.by !== undefined ? ` by ${l.approval.by}` : ""} at ${formatTime(l.approval.at)}: ${l.approval.reason}`;
  const endpoints =
    l.endpoints.length === 0
      ? [dash]
      : l.endpoints.map((e) => `${e.target}  ${e.outcome === "updated" ? `revision ${e.revision ?? "?"} (${e.kind ?? "promotion"})` : `failed ${e.code ?? ""}: ${e.reason ?? ""}`}  ${e.modelId}  at ${formatTime(e.at)}`);
  const block = (label: string, values: readonly string[]): string[] => values.map((value, i) => `  ${(i === 0 ? label : "").padEnd(11)} ${value}`);
  return [
    `run ${l.runId}: pipeline ${l.pipeline} #${l.runSequence}`,
    ...block("dataset", [dataset]),
    ...block("job", [job]),
    ...block("model", [model]),
    ...block("evaluation", evaluation),
    ...block("approval", [approval]),
    ...block("endpoints", endpoints),
  ];
}

function triggerText(run: RunSummaryView): string {
  return run.trigger === null || run.trigger === undefined ? "-" : run.trigger.kind;
}

function spanMs(run: RunSummaryView): number | null {
  if (run.startedAt === null || run.lastEventAt === null) return null;
  return Date.parse(run.lastEventAt) - Date.parse(run.startedAt);
}

/** `retrain runs`, `retrain stuck`, `retrain run <id>`, `retrain lineage <id>`, `retrain cancel <run>`, `retrain rerun <run>` (registry, ingestion). */
export const registerRuns: CommandGroup = (program, context) => {
  program
    .command("runs")
    .description("list runs, newest first")
    .option("--pipeline <name>", "only this pipeline's runs")
    .option("--outcome <outcome>", `only runs with this outcome (${RUN_OUTCOMES.join(", ")})`)
    .option("--top <n>", "at most this many runs (default 20)", "20")
    .option("--skip <n>", "skip this many runs first (paging)")
    .action(async (options: { pipeline?: string; outcome?: string; top?: string; skip?: string }, command) => {
      const ctx = context(command);
      if (options.outcome !== undefined && !(RUN_OUTCOMES as readonly string[]).includes(options.outcome)) {
        throw new CliError(`--outcome must be one of ${RUN_OUTCOMES.join(", ")} (got '${options.outcome}')`, 2, "BadArgument");
      }
      const query = { pipeline: options.pipeline, outcome: options.outcome, top: positiveInteger(options.top, "--top"), skip: positiveInteger(options.skip, "--skip") };
      const { body } = await ctx.api("registry").get<{ value: RunSummaryView[]; count?: number; nextLink?: string }>("/v1/runs", { query });
      const rows = body.value.map((r) => [r.runId, r.pipeline, r.runSequence, triggerText(r), r.outcome, formatTime(r.startedAt), formatDuration(spanMs(r))]);
      const skip = Number(query.skip ?? 0);
      const more = body.nextLink !== undefined ? [`${rows.length} of ${body.count ?? "more"} runs; the next page: --skip ${skip + rows.length}`] : [];
      ctx.out.result(body, rows.length === 0 ? "no runs" : [table(rows, ["RUN", "PIPELINE", "#", "TRIGGER", "OUTCOME", "STARTED (UTC)", "DURATION"]), ...more]);
    });

  program
    .command("stuck")
    .description("runs the reconciler re-drove without them moving on: each with its stage, since when, and the attempts made")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx
        .api("registry")
        .get<{ value: Array<{ runId: string; pipeline: string; stage: string; since: string; attempts: number; stuckAt: string | null; outcome: string | null }> }>("/v1/stuck");
      const rows = body.value.map((r) => [r.runId, r.pipeline, r.stage, formatTime(r.since), r.attempts, formatTime(r.stuckAt), r.outcome]);
      ctx.out.result(body, rows.length === 0 ? "no stuck runs" : table(rows, ["RUN", "PIPELINE", "STAGE", "SINCE (UTC)", "RE-DRIVES", "STUCK AT (UTC)", "OUTCOME"]));
    });

  program
    .command("run <runId>")
    .summary("a run's timeline with stage durations")
    .description("a run's timeline: every stage with its time and how long it took since the previous one")
    .action(async (runId: string, _options: unknown, command) => {
      const ctx = context(command);
      const run = await timeline(ctx, runId);
      const trigger = run.trigger === null || run.trigger === undefined ? "" : `, trigger ${run.trigger.kind}${run.trigger.by !== undefined ? ` by ${run.trigger.by}` : ""}`;
      ctx.out.result(run, [
        `run ${run.runId}: pipeline ${run.pipeline} #${run.runSequence}${trigger}`,
        ...(run.datasetSha256 !== null && run.datasetSha256 !== undefined ? [`dataset sha256 ${run.datasetSha256}`] : []),
        STAGE_HEADER,
        ...run.stages.map(stageLine),
        run.terminal ? outcomeLine(run) : `run ${run.runId} is ${run.outcome} (${formatDuration(run.totalMs)} so far)`,
      ]);
    });

  program
    .command("lineage <runId>")
    .summary("dataset → job → model → evaluation → endpoints of a run")
    .description("where a run's model came from and where it went: dataset → job → model → evaluation → approval → endpoints")
    .action(async (runId: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("registry").get<LineageView>(`/v1/runs/${encodeURIComponent(runId)}/lineage`);
      ctx.out.result(body, lineageLines(body));
    });

  program
    .command("cancel <runId>")
    .summary("cancel a run that has not ended")
    .description("cancel a run that has not ended: a running job is cancelled, nothing is promoted")
    .option("--reason <text>", "why (recorded with the run)")
    .option("--pipeline <name>", "the run's pipeline (default: asked of the registry)")
    .action(async (runId: string, options: { reason?: string; pipeline?: string }, command) => {
      const ctx = context(command);
      const pipeline = await pipelineOf(ctx, runId, options.pipeline);
      const { body } = await ctx
        .api("ingestion")
        .post<{ runId: string; pipeline: string; cancelled: boolean; cancelledBy?: string | null }>(`/v1/pipelines/${encodeURIComponent(pipeline)}/runs/${encodeURIComponent(runId)}/cancel`, {
          body: options.reason !== undefined ? { reason: options.reason } : {},
        });
      ctx.out.result(body, `run ${runId} of ${pipeline} cancelled${body.cancelledBy !== undefined && body.cancelledBy !== null ? ` by ${body.cancelledBy}` : ""}`);
    });

  program
    .command("rerun <runId>")
    .summary("a new run on the same dataset")
    .description("start a new run of the same pipeline on the same dataset")
    .option("--pipeline <name>", "the run's pipeline (default: asked of the registry)")
    .option("--follow", "follow the new run live until it ends")
    .option("--timeout <seconds>", "with --follow: stop following after this long (default 1800)")
    .addHelpText("after", FOLLOW_EXIT_CODES)
    .action(async (runId: string, options: { pipeline?: string; follow?: boolean; timeout?: string }, command) => {
      const ctx = context(command);
      const timeoutMs = timeoutMsOf(options.timeout);
      const pipeline = await pipelineOf(ctx, runId, options.pipeline);
      const { body: rerun } = await ctx.api("ingestion").post<{ runId: string; runSequence: number }>(`/v1/pipelines/${encodeURIComponent(pipeline)}/runs`, { body: { runId } });
      const started = `run ${rerun.runId} (${pipeline} #${rerun.runSequence}) started: a re-run of ${runId}`;
      if (options.follow !== true) {
        ctx.out.result({ rerun }, started);
        return;
      }
      ctx.out.line(started);
      const run = await followRun(ctx, rerun.runId, timeoutMs !== undefined ? { timeoutMs } : {});
      ctx.out.result({ rerun, run }, outcomeLine(run));
      failOnRunFailure(run);
    });
};
