// Run-level Prometheus metrics. The registry sees every event of every run, so it is the one place
// that knows when a run starts, how long each stage took, and how the run ended.
import type { AnyEvent } from "@retrain/contracts";
import type { CounterMetric, HistogramMetric, MetricsRegistry } from "@retrain/service-kit";
import { runOutcome, type RunDocument, type Stage } from "./projections.js";

/** How a run ended, as the `outcome` label of `retrain_runs_total` spells it (plus "started"). */
export type RunCountOutcome = "started" | "succeeded" | "rejected" | "failed" | "cancelled";

// Stages last seconds (a small model) to hours (a manual approval).
const STAGE_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14_400];

/**
 * `retrain_runs_total{pipeline, outcome}` (started, then succeeded / rejected / failed / cancelled once
 * the run is terminal) and `retrain_run_stage_duration_seconds{pipeline, stage}` (training,
 * evaluation, approval, promotion — per target — and run, from the events' own times).
 */
export class RunMetrics {
  readonly #runs: CounterMetric<"pipeline" | "outcome">;
  readonly #stages: HistogramMetric<"pipeline" | "stage">;

  constructor(
    registry: MetricsRegistry,
    private readonly projections: { run(runId: string): Promise<RunDocument | undefined> },
  ) {
    this.#runs = registry.counter({ name: "retrain_runs_total", help: "Runs started, and runs ended by outcome, per pipeline.", labelNames: ["pipeline", "outcome"] });
    this.#stages = registry.histogram({
      name: "retrain_run_stage_duration_seconds",
      help: "Time a run spent in each stage (training, evaluation, approval, promotion) and in all (run), per pipeline.",
      labelNames: ["pipeline", "stage"],
      buckets: STAGE_BUCKETS,
    });
  }

  /** Runs `apply` (the projection update of `event`) and records what it changed about the run. */
  async around(event: AnyEvent, apply: () => Promise<boolean>): Promise<boolean> {
    const runId = "runId" in event.data ? event.data.runId : event.runid;
    if (runId === undefined) return apply();
    const before = await this.projections.run(runId);
    const changed = await apply();
    if (!changed) return changed;
    const after = await this.projections.run(runId);
    if (after !== undefined) this.#record(event, before, after);
    return changed;
  }

  #record(event: AnyEvent, before: RunDocument | undefined, after: RunDocument): void {
    const pipeline = after.pipeline;
    if (before === undefined || !before.stages.some((s) => s.stage === "received")) {
      if (after.stages.some((s) => s.stage === "received")) this.#runs.inc({ pipeline, outcome: "started" });
    }
    const stage = after.stages.find((s) => s.eventId === event.id);
    if (stage !== undefined) {
      const measured = stageDuration(after.stages, stage);
      if (measured !== undefined) this.#stages.observe({ pipeline, stage: measured.stage }, measured.seconds);
    }
    const wasTerminal = before !== undefined && runOutcome(before).terminal;
    const now = runOutcome(after);
    if (wasTerminal || !now.terminal) return;
    this.#runs.inc({ pipeline, outcome: countedOutcome(now.outcome) });
    const received = after.stages.find((s) => s.stage === "received");
    const last = after.stages[after.stages.length - 1];
    if (received !== undefined && last !== undefined) this.#stages.observe({ pipeline, stage: "run" }, seconds(received.at, last.at));
  }
}

function countedOutcome(outcome: string): RunCountOutcome {
  if (outcome === "promoted") return "succeeded";
  if (outcome === "rejected") return "rejected";
  if (outcome === "cancelled") return "cancelled";
  return "failed";
}

function seconds(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

/** The stage a new timeline entry ends, and how long it took since the entry that began it. */
export function stageDuration(stages: readonly Stage[], stage: Stage): { stage: string; seconds: number } | undefined {
  const index = stages.indexOf(stage);
  const earlier = stages.slice(0, index < 0 ? stages.length : index);
  const lastOf = (name: Stage["stage"]) => [...earlier].reverse().find((s) => s.stage === name);
  let begin: Stage | undefined;
  let name: string;
  switch (stage.stage) {
    case "trained":
    case "failed":
      begin = lastOf("received");
      name = "training";
      break;
    case "approved":
    case "rejected":
    case "awaiting": {
      const awaiting = stage.stage === "awaiting" ? undefined : lastOf("awaiting");
      begin = awaiting ?? lastOf("trained");
      name = awaiting !== undefined ? "approval" : "evaluation";
      break;
    }
    case "updated":
    case "promotion-failed":
      begin = lastOf("approved");
      name = "promotion";
      break;
    default:
      return undefined;
  }
  return begin === undefined ? undefined : { stage: name, seconds: seconds(begin.at, stage.at) };
}
