// The Jepsen-style checker: classifies every run the runner sent (ok / lost / duplicated / stuck /
// unacked) from the runner's ledger plus the scoring host's audit log, and checks the global criteria.
import { EventTypes, targetKey } from "@retrain/contracts";
import type { DeadLetter } from "@retrain/bus";
import type { Ledger, SentRun } from "./ledger.js";

/** What the scoring host's audit log says about one model change (the fields the checker reads). */
export interface AuditRecord {
  readonly revision: number;
  readonly run?: { readonly runId?: string | undefined } | undefined;
  readonly to: { readonly modelId: string; readonly runId?: string | undefined };
}

/** What a target serves at the end (undefined: no model, e.g. an endpoint never created). */
export interface ServedRecord {
  readonly modelId: string;
  readonly runId: string | null;
}

/** A run's class. */
export type RunClass = "ok" | "lost" | "duplicated" | "stuck" | "unacked";

/** One run's verdict. */
export interface RunVerdict {
  readonly index: number;
  readonly pipeline: string;
  readonly runId: string | undefined;
  readonly runSequence: number | undefined;
  readonly outcome: RunClass;
  /** What the run ended as (`promoted`, `rejected`, …) or why it is not ok. */
  readonly detail: string;
}

/** One pass criterion. */
export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** Everything the checker needs besides the ledger. */
export interface CheckInput {
  readonly ledger: Ledger;
  /** targetKey → its audit log. */
  readonly audit: ReadonlyMap<string, readonly AuditRecord[]>;
  /** targetKey → what it serves now. */
  readonly served: ReadonlyMap<string, ServedRecord | undefined>;
  readonly deadLetters: readonly DeadLetter[];
  readonly runDeadlineMs: number;
  /** The always-failing consumer group and its maxAttempts. */
  readonly failing?: { readonly group: string; readonly maxAttempts: number };
  /** Malformed payloads published raw, and a group that consumes their subject. */
  readonly poison?: { readonly payloads: readonly string[]; readonly group: string };
  /** Synthetic older approvals published after newer ones: each must change nothing. */
  readonly reorderProbes?: readonly { readonly runId: string; readonly targets: readonly string[] }[];
}

/** The checker's answer. */
export interface CheckReport {
  readonly runs: readonly RunVerdict[];
  readonly counts: Readonly<Record<RunClass, number>>;
  readonly checks: readonly Check[];
  readonly pass: boolean;
}

/** Same-id re-publishes younger than this are judged against the broker's 2-minute duplicate window. */
const RETRY_JUDGED_MS = 90_000;

function endOf(ledger: Ledger, runId: string): string {
  const p = ledger.progress(runId);
  if (p.trainingFailed) return "training-failed";
  if (p.verdict === "rejected") return "rejected";
  const outcomes = [...p.outcomes.values()];
  if (outcomes.every((o) => o === "updated")) return "promoted";
  if (outcomes.every((o) => o === "failed")) return "promotion-failed";
  return "partly-promoted";
}

/** Why a run counts as duplicated, or undefined. */
function duplication(input: CheckInput, run: SentRun & { runId: string }): string | undefined {
  const { ledger } = input;
  const jobs = new Set(ledger.eventsOf(run.runId, EventTypes.ModelTrained).map((e) => e.data.jobId));
  if (jobs.size > 1) return `${jobs.size} trainings committed (jobs ${[...jobs].join(", ")})`;
  const updates = new Map<string, Set<string>>();
  for (const e of ledger.eventsOf(run.runId, EventTypes.EndpointUpdated)) {
    const key = targetKey(e.data.target);
    const set = updates.get(key) ?? new Set<string>();
    set.add(`${e.id}@r${e.data.revision}`);
    updates.set(key, set);
  }
  for (const [key, set] of updates) if (set.size > 1) return `${set.size} EndpointUpdated for ${key}`;
  const failed = new Set(ledger.eventsOf(run.runId, EventTypes.PromotionFailed).map((e) => targetKey(e.data.target)));
  for (const key of updates.keys()) if (failed.has(key)) return `both EndpointUpdated and PromotionFailed for ${key}`;
  for (const [key, entries] of input.audit) {
    const n = entries.filter((a) => a.run?.runId === run.runId).length;
    if (n > 1) return `${n} model changes for ${key} in the scoring audit log`;
  }
  return undefined;
}

/** Classifies every run and checks the pass criteria. */
export function check(input: CheckInput): CheckReport {
  const { ledger } = input;
  const verdicts: RunVerdict[] = [];
  for (const run of ledger.runs) {
    const base = { index: run.index, pipeline: run.pipeline, runId: run.runId, runSequence: run.runSequence };
    if (run.runId === undefined) {
      verdicts.push({ ...base, outcome: "unacked", detail: `upload never accepted after ${run.attempts} attempts` });
      continue;
    }
    const accepted = { ...run, runId: run.runId };
    if (!ledger.progress(run.runId).dataArrived) {
      verdicts.push({ ...base, outcome: "lost", detail: "accepted by ingestion, but no DataArrived was ever seen" });
      continue;
    }
    const duplicate = duplication(input, accepted);
    if (duplicate !== undefined) {
      verdicts.push({ ...base, outcome: "duplicated", detail: duplicate });
      continue;
    }
    const took = run.terminalAt !== undefined && run.acceptedAt !== undefined ? run.terminalAt - run.acceptedAt : undefined;
    if (took === undefined || took > input.runDeadlineMs) {
      const p = ledger.progress(run.runId);
      const stage = p.verdict !== undefined ? `verdict ${p.verdict}, ${p.outcomes.size}/${p.planTargets.length} targets decided` : p.trained ? "trained, no verdict" : "data arrived, not trained";
      verdicts.push({ ...base, outcome: "stuck", detail: took === undefined ? `not terminal: ${stage}` : `terminal after ${took} ms (deadline ${input.runDeadlineMs} ms)` });
      continue;
    }
    verdicts.push({ ...base, outcome: "ok", detail: `${endOf(ledger, run.runId)} in ${took} ms` });
  }
  const counts: Record<RunClass, number> = { ok: 0, lost: 0, duplicated: 0, stuck: 0, unacked: 0 };
  for (const v of verdicts) counts[v.outcome]++;

  const checks: Check[] = [];
  checks.push({ name: "every run terminal within the deadline", pass: counts.stuck === 0 && counts.unacked === 0, detail: `${counts.stuck} stuck, ${counts.unacked} unacked` });
  checks.push({ name: "0 lost runs", pass: counts.lost === 0, detail: `${counts.lost} lost` });

  let auditDuplicates = 0;
  for (const entries of input.audit.values()) {
    const perRun = new Map<string, number>();
    for (const a of entries) if (a.run?.runId !== undefined) perRun.set(a.run.runId, (perRun.get(a.run.runId) ?? 0) + 1);
    for (const n of perRun.values()) if (n > 1) auditDuplicates += n - 1;
  }
  checks.push({ name: "0 duplicate PATCH/ARM model changes (scoring audit log)", pass: auditDuplicates === 0, detail: `${auditDuplicates} duplicates in ${[...input.audit.values()].reduce((n, e) => n + e.length, 0)} audit entries` });
  const endpointDuplicates = verdicts.filter((v) => v.outcome === "duplicated" && v.detail.includes("EndpointUpdated")).length;
  checks.push({ name: "0 duplicate EndpointUpdated", pass: endpointDuplicates === 0, detail: `${endpointDuplicates} runs with more than one per target` });

  // Each target's final model is the run with the highest sequence that was approved for it.
  const wrong: string[] = [];
  for (const [key, served] of input.served) {
    let newest: SentRun | undefined;
    for (const run of ledger.runs) {
      if (run.runId === undefined || run.runSequence === undefined || !run.targets.includes(key)) continue;
      if (ledger.progress(run.runId).verdict !== "approved") continue;
      if (newest === undefined || (newest.runSequence ?? -1) < run.runSequence) newest = run;
    }
    const expected = newest?.runId ?? null;
    const actual = served?.runId ?? null;
    if (expected !== actual) wrong.push(`${key}: serves ${actual ?? "the initial model"}, newest approved is ${expected ?? "none"}`);
  }
  checks.push({ name: "each endpoint's final model = the newest approved", pass: wrong.length === 0, detail: wrong.length === 0 ? `${input.served.size} targets` : wrong.join("; ") });

  if (input.reorderProbes !== undefined) {
    const moved: string[] = [];
    for (const probe of input.reorderProbes) {
      for (const [key, entries] of input.audit) if (entries.some((a) => a.run?.runId === probe.runId)) moved.push(`${key} moved to the older probe ${probe.runId}`);
      const failed = ledger.eventsOf(probe.runId, EventTypes.PromotionFailed).map((e) => targetKey(e.data.target));
      for (const t of probe.targets) if (!failed.includes(t)) moved.push(`probe ${probe.runId}: no PromotionFailed for ${t}`);
    }
    checks.push({ name: "an older ModelApproved after a newer one changes nothing", pass: moved.length === 0, detail: moved.length === 0 ? `${input.reorderProbes.length} probes refused` : moved.join("; ") });
  }

  if (input.failing !== undefined) {
    const { group, maxAttempts } = input.failing;
    const letters = input.deadLetters.filter((d) => d.group === group);
    const bad = letters.filter((d) => d.attempts !== maxAttempts || d.reason !== "MaxAttemptsExceeded" || d.description === "");
    const expectedIds = new Set(ledger.runs.flatMap((r) => (r.runId !== undefined ? ledger.eventsOf(r.runId, EventTypes.DataArrived).map((e) => e.id) : [])));
    const lettered = new Set(letters.map((d) => d.eventId));
    const missing = [...expectedIds].filter((id) => !lettered.has(id));
    checks.push({
      name: `always-failing handler: dead-lettered after exactly ${maxAttempts} attempts with a reason`,
      pass: bad.length === 0 && missing.length === 0 && letters.length > 0,
      detail: `${letters.length} dead letters for ${expectedIds.size} events; ${bad.length} with other attempts/reason; ${missing.length} events missing`,
    });
  }
  if (input.poison !== undefined) {
    const { payloads, group } = input.poison;
    const letters = input.deadLetters.filter((d) => d.group === group && d.reason === "SchemaInvalid");
    const missing = payloads.filter((p) => !letters.some((d) => d.payload === p));
    checks.push({
      name: `malformed events: dead-lettered by ${group} as SchemaInvalid`,
      pass: missing.length === 0,
      detail: `${payloads.length - missing.length}/${payloads.length} found (${letters.map((d) => `${d.attempts} attempt(s): ${d.description.slice(0, 60)}`).join(" | ")})`,
    });
  }
  // A producer's retry under the same id within the broker's window (2 min; judged under 90 s of the
  // event's creation, which precedes its first publish) must be dropped as a duplicate every time.
  const retries = ledger.retries.filter((r) => r.ageMs < RETRY_JUDGED_MS);
  const passed = retries.filter((r) => !r.duplicate);
  if (ledger.retries.length > 0) {
    checks.push({
      name: "a same-id re-publish inside the duplicate window is dropped by the broker (duplicate=true)",
      pass: passed.length === 0,
      detail: `${retries.length - passed.length}/${retries.length} dropped${passed.length > 0 ? `; passed: ${passed.slice(0, 5).map((r) => r.eventId).join(", ")}` : ""} (${ledger.retries.length - retries.length} later ones not judged)`,
    });
  }
  const faults = ledger.faults.filter((f) => f.kind === "kill");
  const idle = faults.filter((f) => f.runs.length === 0 && !f.handler.startsWith("ingestion"));
  checks.push({ name: "every kill landed while its service had work in progress", pass: idle.length === 0, detail: `${faults.length - idle.length}/${faults.length}` });
  return { runs: verdicts, counts, checks, pass: checks.every((c) => c.pass) };
}
