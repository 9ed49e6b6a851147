// Following a run live: the registry's timeline polled until the run ends, each stage printed as it
// appears, and the exit policy of commands that wait for a run.
import type { CliContext } from "./context.js";
import { CliError } from "./errors.js";
import { formatDuration, formatTime } from "./output.js";
import type { RunTimelineView, StageView } from "./wire.js";

/** Options of {@link followRun}. */
export interface FollowOptions {
  /** Give up (exit 1, the run goes on) after this long. Default 30 min. */
  readonly timeoutMs?: number;
  /** Time between two looks at the timeline. Default 500 ms. */
  readonly intervalMs?: number;
}

/** Outcomes that end a command that waited for the run with exit code 1: the run itself failed. */
const FAILED_OUTCOMES = new Set(["failed", "promotion-failed"]);

/** The exit code of a run that reached `outcome`: 1 for failed training or promotion, else 0 (rejected included). */
export function exitCodeOfOutcome(outcome: string): 0 | 1 {
  return FAILED_OUTCOMES.has(outcome) ? 1 : 0;
}

/** One timeline line: stage, time, time since the previous stage, target and detail. */
export function stageLine(stage: StageView): string {
  const since = stage.durationMs === null ? "" : `+${formatDuration(stage.durationMs)}`;
  const what = [stage.target, stage.detail].filter((part) => part !== undefined && part !== "").join("  ");
  return `  ${stage.stage.padEnd(16)} ${formatTime(stage.at).slice(11)}  ${since.padEnd(9)} ${what}`.trimEnd();
}

/** The header above {@link stageLine}s. */
export const STAGE_HEADER = `  ${"STAGE".padEnd(16)} ${"AT (UTC)"}  ${"+TIME".padEnd(9)} TARGET / DETAIL`;

/** The last line about a run: its outcome, how long it took, and why when it did not promote. */
export function outcomeLine(run: RunTimelineView): string {
  const last = run.stages[run.stages.length - 1];
  const why = run.outcome === "promoted" || last?.detail === undefined ? "" : `: ${last.detail}`;
  return `run ${run.runId} (${run.pipeline} #${run.runSequence}) ${run.outcome}${run.totalMs === null ? "" : ` after ${formatDuration(run.totalMs)}`}${why}`;
}

/** Throws the one-line failure of a run that ended failed (exit 1); returns for any other end. */
export function failOnRunFailure(run: RunTimelineView): void {
  if (exitCodeOfOutcome(run.outcome) === 1) throw new CliError(outcomeLine(run), 1, run.outcome === "failed" ? "TrainingFailed" : "PromotionFailed");
}

/** Waits between two looks at a server's state. */
export function pause(ms: number): Promise<void> {
  // time-based by design: a client polling a server over HTTP has no effect to await between looks.
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls the registry's timeline of `runId` until the run is terminal, printing every stage once as it
 * appears (human output), and returns the final timeline. The registry may not know the run for a
 * moment after the upload answered (it learns from events), so a 404 is waited out too.
 */
export async function followRun(ctx: CliContext, runId: string, options: FollowOptions = {}): Promise<RunTimelineView> {
  const registry = ctx.api("registry");
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const deadline = Date.now() + timeoutMs;
  const printed = new Set<string>();
  let hinted = false;
  for (;;) {
    const answer = await registry.get<RunTimelineView>(`/v1/runs/${encodeURIComponent(runId)}`, { accept: [404] });
    if (answer.status === 200) {
      const run = answer.body;
      for (const stage of run.stages) {
        const id = `${stage.stage}|${stage.at}|${stage.target ?? ""}`;
        if (printed.has(id)) continue;
        printed.add(id);
        ctx.out.line(stageLine(stage));
      }
      if (run.outcome === "awaiting-approval" && !hinted) {
        hinted = true;
        ctx.out.note(`waiting for a person's decision: retrain approve|reject ${runId} (an admin key)`);
      }
      if (run.terminal) return run;
    }
    if (Date.now() > deadline) {
      const where = answer.status === 200 ? `is still ${answer.body.outcome}` : "is not known to the registry yet";
      throw new CliError(`run ${runId} ${where} after ${formatDuration(timeoutMs)}; follow it with: retrain run ${runId}`, 1, "FollowTimeout");
    }
    await pause(options.intervalMs ?? 500);
  }
}
