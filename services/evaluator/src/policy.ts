// The decision rules: pure functions of the policy and the metrics, so they are tested on their own.
import { LOWER_IS_BETTER, type EvaluationPolicy, type Metrics, type PrimaryMetric } from "@retrain/contracts";
import type { ChampionOutcome } from "./evaluation.js";

/** The automatic branch of a run's evaluation policy. */
export type AutomaticPolicy = Extract<EvaluationPolicy, { mode: "automatic" }>;

/** What the policy decided, and why in words a person reads. */
export interface Verdict {
  readonly approved: boolean;
  readonly reason: string;
}

/** A metric value as a person reads it: up to three decimals, more only for tiny values. */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 0.001) return value.toPrecision(2);
  return String(Number(value.toFixed(3)));
}

function formatPercent(fraction: number): string {
  return `${formatMetric(fraction * 100)}%`;
}

/** Improvement of `challenger` over `champion` on `metric` (positive = better, whichever way the metric points). */
export function gainOver(metric: PrimaryMetric, challenger: number, champion: number): number {
  return LOWER_IS_BETTER.has(metric) ? champion - challenger : challenger - champion;
}

/**
 * Judges a challenger automatically:
 * 1. its primary metric must exist on the holdout (a binary metric of a regression model does not);
 * 2. when the policy has a threshold, it must reach it (≥, or ≤ for error metrics);
 * 3. against every target's champion that could be scored on the same holdout, the gain must be at
 *    least `minGain` (absolute, or relative to the champion's value; no `minGain` = not worse).
 * A target without a champion (or whose champion does not fit the holdout) is judged by 1–2 only.
 * All targets must pass for approval: one run's model goes to all its targets or to none.
 */
export function judge(policy: AutomaticPolicy, challenger: Metrics, champions: readonly ChampionOutcome[]): Verdict {
  const metric = policy.primaryMetric;
  const value = challenger[metric];
  if (value === undefined) {
    return { approved: false, reason: `${metric} could not be computed for the challenger on the holdout rows.` };
  }
  const lower = LOWER_IS_BETTER.has(metric);
  const parts: string[] = [];
  let approved = true;
  if (policy.threshold !== undefined) {
    const passes = lower ? value <= policy.threshold : value >= policy.threshold;
    const sign = passes ? (lower ? "≤" : "≥") : lower ? ">" : "<";
    parts.push(`${metric} ${formatMetric(value)} ${sign} threshold ${formatMetric(policy.threshold)}`);
    approved &&= passes;
  } else {
    parts.push(`${metric} ${formatMetric(value)}`);
  }
  const several = champions.length > 1;
  const on = (c: ChampionOutcome) => (several ? ` on ${c.target}` : "");
  const minGain = policy.minGain ?? { kind: "absolute" as const, value: 0 };
  for (const champion of champions) {
    const theirs = champion.metrics?.[metric];
    if (champion.status !== "served" || theirs === undefined) {
      parts.push(champion.status === "unscorable" ? `the champion${on(champion)} could not be scored (${champion.note ?? "unknown reason"})` : `no champion yet${on(champion)}`);
      continue;
    }
    const gain = gainOver(metric, value, theirs);
    if (minGain.kind === "absolute") {
      const passes = gain >= minGain.value;
      parts.push(
        passes
          ? `beats the champion's ${formatMetric(theirs)}${on(champion)} by ${formatMetric(gain)} (≥ ${formatMetric(minGain.value)})`
          : `does not beat the champion's ${formatMetric(theirs)}${on(champion)} by ${formatMetric(minGain.value)} (gain ${formatMetric(gain)})`,
      );
      approved &&= passes;
    } else {
      const relative = theirs === 0 ? (gain > 0 ? Number.POSITIVE_INFINITY : 0) : gain / Math.abs(theirs);
      const passes = relative >= minGain.value;
      parts.push(
        passes
          ? `beats the champion's ${formatMetric(theirs)}${on(champion)} by ${formatMetric(gain)} (${formatPercent(relative)} ≥ ${formatPercent(minGain.value)})`
          : `does not beat the champion's ${formatMetric(theirs)}${on(champion)} by ${formatPercent(minGain.value)} (gain ${formatMetric(gain)}, ${formatPercent(relative)})`,
      );
      approved &&= passes;
    }
  }
  return { approved, reason: joinParts(parts) };
}

/** The reason of a ModelAwaitingApproval: the numbers a person decides on. */
export function describeForApproval(metric: PrimaryMetric, challenger: Metrics, champions: readonly ChampionOutcome[]): string {
  const value = challenger[metric];
  const parts = [`Manual approval required: ${metric} ${value === undefined ? "n/a" : formatMetric(value)}`];
  for (const champion of champions) {
    const theirs = champion.metrics?.[metric];
    if (champion.status === "served" && theirs !== undefined) parts.push(`the champion's ${formatMetric(theirs)} on ${champion.target}`);
    else parts.push(champion.status === "unscorable" ? `the champion on ${champion.target} could not be scored` : `no champion yet on ${champion.target}`);
  }
  return parts.length === 1 ? `${parts[0]}.` : `${parts[0]} vs ${parts.slice(1).join(", ")}.`;
}

function joinParts(parts: readonly string[]): string {
  if (parts.length <= 1) return parts[0] ?? "";
  return `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1] ?? ""}`;
}
