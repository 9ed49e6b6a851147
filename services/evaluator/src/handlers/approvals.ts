import type { EventBus } from "@retrain/bus";
import { createEvent, EventTypes } from "@retrain/contracts";
import { assertAdmin, assertWorkspaceAccess, HttpError, type Principal } from "@retrain/service-kit";
import { championMetrics, type EvaluationDocument, type Evaluations } from "../evaluation.js";
import { relayOutbox } from "../relay.js";

/** What approving or rejecting needs. */
export interface ApprovalDeps {
  readonly bus: EventBus;
  readonly evaluations: Evaluations;
  readonly source: string;
}

/** A person's decision on a run waiting for approval. */
export interface ApprovalDecision {
  readonly approve: boolean;
  readonly principal: Principal;
  /** Why, in the person's words. */
  readonly reason?: string;
}

/** A run's evaluation, or 404 when it does not exist or belongs to a workspace the key does not open. */
export async function evaluationFor(evaluations: Evaluations, runId: string, principal: Principal): Promise<EvaluationDocument> {
  const doc = await evaluations.get(runId);
  if (doc === undefined) throw new HttpError(404, "EvaluationNotFound", `No evaluation of run '${runId}' was found.`);
  try {
    assertWorkspaceAccess(principal, doc.workspace, "run");
  } catch {
    // The same answer as a missing run: a key of another workspace must not learn that the run exists.
    throw new HttpError(404, "EvaluationNotFound", `No evaluation of run '${runId}' was found.`);
  }
  return doc;
}

/**
 * Approves or rejects a run waiting for approval: records who and when, and the ModelApproved (kind
 * `manual`) or ModelRejected event, in one compare-and-set; then relays it. A run that is not
 * waiting (decided by policy, or by a person already) → 409 `ApprovalNotPending`.
 */
export async function decideApproval(runId: string, decision: ApprovalDecision, deps: ApprovalDeps): Promise<EvaluationDocument> {
  const found = await evaluationFor(deps.evaluations, runId, decision.principal);
  // After the workspace check, so another workspace's key still gets 404 and learns nothing.
  assertAdmin(decision.principal, decision.approve ? "approve a run" : "reject a run");
  if (found.cancelled !== undefined) throw new HttpError(409, "RunCancelled", `Run '${runId}' was cancelled; it can no longer be approved or rejected.`);
  const now = new Date();
  const by = decision.principal.name;
  await deps.evaluations.markOutbox(runId);
  const { value, changed } = await deps.evaluations.update(runId, (current) => {
    if (current === undefined || current.cancelled !== undefined || current.state !== "awaiting-approval" || current.approval?.state !== "pending") return undefined;
    const { trained } = current;
    const verb = decision.approve ? "Approved" : "Rejected";
    const reason = `${verb} by ${by}${decision.reason !== undefined && decision.reason !== "" ? `: ${decision.reason}` : "."} (${current.reason})`;
    const judgement = {
      runId: trained.runId,
      pipeline: trained.pipeline,
      runSequence: trained.runSequence,
      plan: trained.plan,
      model: trained.model,
      challenger: current.challenger,
      champions: championMetrics(current.champions),
      reason,
    };
    const event = decision.approve
      ? createEvent(EventTypes.ModelApproved, { ...judgement, kind: "manual", approvedBy: by }, { source: deps.source, time: now })
      : createEvent(EventTypes.ModelRejected, { ...judgement, rejectedBy: by }, { source: deps.source, time: now });
    return {
      ...current,
      state: decision.approve ? "approved" : "rejected",
      reason,
      decidedAt: now.toISOString(),
      approval: {
        ...current.approval,
        state: decision.approve ? "approved" : "rejected",
        decidedBy: by,
        decidedAt: now.toISOString(),
        ...(decision.reason !== undefined ? { comment: decision.reason } : {}),
      },
      outbox: [...current.outbox, event],
    };
  });
  if (value === undefined) throw new HttpError(404, "EvaluationNotFound", `No evaluation of run '${runId}' was found.`);
  if (!changed) {
    const state = value.approval?.state ?? value.state;
    throw new HttpError(409, "ApprovalNotPending", `Run '${runId}' is not waiting for approval (it is ${state}).`);
  }
  await relayOutbox(value, deps);
  return value;
}
