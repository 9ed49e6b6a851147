import type { AuditEntry, ChangeReason, ModelSummary, RunIdentity, ServedModelState, TargetDoc } from "./documents.js";

/** A verified model copy that may become a target's model. */
export interface ModelCandidate {
  readonly sha256: string;
  /** Its blob in the own store. */
  readonly blob: string;
  readonly size: number;
  readonly learner: string;
  readonly task: "binary" | "regression";
  /** The caller's model id; default derived from the content hash. */
  readonly modelId?: string | undefined;
  /** Where it came from, without a SAS token. */
  readonly source?: string | undefined;
}

/** A requested model change. */
export interface ModelChange {
  readonly candidate: ModelCandidate;
  readonly run?: RunIdentity;
  readonly reason: ChangeReason;
  /** Key name of the caller (never the key). */
  readonly caller: string;
  readonly now: Date;
}

/** What {@link planModelChange} decided. */
export type ChangePlan =
  /** A new revision: the document to write and its audit entry (already in the document's outbox). */
  | { readonly outcome: "applied"; readonly doc: TargetDoc; readonly entry: AuditEntry }
  /** The same run's model again: nothing to do, the current revision stands. */
  | { readonly outcome: "unchanged"; readonly doc: TargetDoc }
  /** Older than what the target has served for this pipeline: refused. */
  | { readonly outcome: "stale"; readonly doc: TargetDoc; readonly highest: number; readonly pipeline: string };

/** The id a model is shown by when the caller gave none: derived from its bytes, so every host agrees. */
export function defaultModelId(sha256: string): string {
  return `sha256-${sha256.slice(0, 16)}`;
}

/** `<modelId>@r<revision>`: how a response names the model that answered. */
export function servingLabel(model: Pick<ServedModelState, "modelId" | "revision">): string {
  return `${model.modelId}@r${model.revision}`;
}

/** The audit/event key of a target, as @retrain/contracts' targetKey spells it. */
export function targetKeyOf(doc: TargetDoc): string {
  if (doc.kind === "classic" && doc.classic !== undefined) return `classic:${doc.workspace}/${doc.classic.webServiceId}/${doc.classic.endpointName}`;
  if (doc.arm !== undefined) return `new:${doc.arm.subscription}/${doc.arm.resourceGroup}/${doc.arm.name}`;
  return `${doc.kind}:${doc.id}`;
}

function summary(model: ServedModelState): ModelSummary {
  return {
    modelId: model.modelId,
    sha256: model.sha256,
    revision: model.revision,
    ...(model.runId !== undefined ? { runId: model.runId } : {}),
    ...(model.runSequence !== undefined ? { runSequence: model.runSequence } : {}),
  };
}

/**
 * The ordering rules of model changes, as a pure function of the stored document:
 * - the same run's model again (same run id and bytes) changes nothing (idempotent retries);
 * - a promotion carrying a run sequence lower than the highest this target ever served for that
 *   pipeline is stale (duplicates and stragglers never move a target backwards);
 * - a rollback (or refresh) is explicit and skips that check; it does not lower the high-water mark,
 *   so after rolling back only a newer run can promote again;
 * - a rollback is applied once: the same rollback (its own run id) arriving again after the target
 *   moved on is stale too, so a straggling rollback never undoes a later promotion;
 * - anything else is a new revision (revision + 1) with its audit entry in the outbox.
 */
export function planModelChange(doc: TargetDoc, change: ModelChange): ChangePlan {
  const { candidate, run, reason } = change;
  const current = doc.model;
  if (current !== undefined && run?.runId !== undefined && current.runId === run.runId && current.sha256 === candidate.sha256) {
    return { outcome: "unchanged", doc };
  }
  const pipeline = run?.pipeline ?? "";
  const highest = doc.sequences[pipeline];
  if (reason === "rollback" && run?.runId !== undefined && (doc.rollbacks ?? []).includes(run.runId)) {
    return { outcome: "stale", doc, highest: highest ?? run.runSequence ?? 0, pipeline };
  }
  const explicit = reason === "rollback" || reason === "refresh";
  if (!explicit && run?.runSequence !== undefined && highest !== undefined && run.runSequence < highest) {
    return { outcome: "stale", doc, highest, pipeline };
  }
  const revision = (current?.revision ?? 0) + 1;
  const model: ServedModelState = {
    revision,
    modelId: candidate.modelId ?? defaultModelId(candidate.sha256),
    sha256: candidate.sha256,
    blob: candidate.blob,
    size: candidate.size,
    learner: candidate.learner,
    task: candidate.task,
    ...(run?.runId !== undefined ? { runId: run.runId } : {}),
    ...(run?.runSequence !== undefined ? { runSequence: run.runSequence } : {}),
    ...(run?.pipeline !== undefined ? { pipeline: run.pipeline } : {}),
    reason,
    since: change.now.toISOString(),
    ...(candidate.source !== undefined ? { source: candidate.source } : {}),
  };
  const sequences = { ...doc.sequences };
  if (run?.runSequence !== undefined) sequences[pipeline] = Math.max(highest ?? 0, run.runSequence);
  const entry: AuditEntry = {
    target: targetKeyOf(doc),
    targetId: doc.id,
    revision,
    from: current === undefined ? null : summary(current),
    to: summary(model),
    ...(run !== undefined && Object.keys(run).length > 0 ? { run } : {}),
    reason,
    caller: change.caller,
    time: change.now.toISOString(),
  };
  const rollbacks = reason === "rollback" && run?.runId !== undefined ? { rollbacks: [...(doc.rollbacks ?? []), run.runId].slice(-100) } : {};
  return { outcome: "applied", doc: { ...doc, model, sequences, ...rollbacks, outbox: [...doc.outbox, entry] }, entry };
}
