import { ulid } from "@retrain/contracts";
import { cronMatches, parseCron, tickOf } from "../cron.js";
import type { IntakeDeps } from "../intake.js";

/** A run a schedule tick started. */
export interface ScheduledRun {
  readonly pipeline: string;
  readonly runId: string;
  readonly runSequence: number;
}

/**
 * One schedule tick at `now`: every pipeline whose cron matches this minute re-trains on its latest
 * dataset (always a new run, trigger `schedule`). The minute is recorded in the pipeline's state in the
 * same write, so a second tick of the same minute (another replica, a restart) starts nothing.
 * A pipeline with no dataset yet is skipped.
 */
export async function runSchedules(now: Date, deps: IntakeDeps): Promise<ScheduledRun[]> {
  const started: ScheduledRun[] = [];
  for (const pipeline of await deps.pipelines.list()) {
    if (pipeline.schedule === undefined || !cronMatches(parseCron(pipeline.schedule), now)) continue;
    const latest = (await deps.runs.state(pipeline.name))?.latest;
    if (latest === undefined) {
      deps.logger.info({ pipeline: pipeline.name }, "schedule matched but the pipeline has no dataset yet");
      continue;
    }
    const result = await deps.runs.start({
      pipeline,
      runId: ulid(now.getTime()),
      dataset: latest.dataset,
      trigger: { kind: "schedule", by: `cron:${pipeline.schedule}` },
      kind: "repeat",
      scheduleTick: tickOf(now),
    });
    if (result.outcome === "started") started.push({ pipeline: pipeline.name, runId: result.runId, runSequence: result.runSequence });
  }
  return started;
}
