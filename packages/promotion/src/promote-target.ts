import { createEvent, EventTypes, type CloudEvent, type EndpointTarget } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { PromotionRefusedError } from "./errors.js";
import type { PromotionStore } from "./promotion-store.js";
import type { PromotionOutcome, PromotionRecord } from "./record.js";

/** What {@link promoteTarget} needs. */
export interface PromoteTargetDeps {
  readonly promotions: PromotionStore;
  /** CloudEvents `source` of EndpointUpdated / PromotionFailed. */
  readonly source: string;
  readonly logger: Logger;
}

/** The promoter-specific step: move `target` to the approval's model and verify it, or refuse. */
export type PromotionEffect<T extends EndpointTarget> = (target: T, record: PromotionRecord) => Promise<PromotionOutcome>;

/**
 * One (run, target) promotion, exactly once in effect (none for a cancelled run: `undefined`): begin the record (a decided one only has its
 * outbox relayed), run the effect — safe to repeat after a crash because the scoring host treats the
 * same run and model as idempotent — then record the decision and its event in one write, and relay.
 * A {@link PromotionRefusedError} from the effect becomes PromotionFailed; any other error propagates
 * so the approval is redelivered and the step retried.
 */
export async function promoteTarget<T extends EndpointTarget>(
  approval: CloudEvent<typeof EventTypes.ModelApproved>,
  target: T,
  effect: PromotionEffect<T>,
  deps: PromoteTargetDeps,
): Promise<PromotionRecord | undefined> {
  const { runId, pipeline, runSequence, model } = approval.data;
  const kind = approval.data.kind === "rollback" ? "rollback" : "promotion";
  // A cancelled run promotes nothing (a promotion decided before the cancel stands, and is only relayed).
  if ((await deps.promotions.get(runId, target)) === undefined && (await deps.promotions.isCancelled(runId))) {
    deps.logger.info({ run_id: runId }, "run was cancelled; its approval promotes nothing");
    return undefined;
  }
  const { record, proceed } = await deps.promotions.begin({ runId, pipeline, runSequence, modelId: model.modelId, kind, target }, approval.id);
  if (!proceed) {
    deps.logger.info({ target: record.targetKey, state: record.state }, "promotion decided already; relaying its outbox only");
    await deps.promotions.relay(record);
    return record;
  }
  let outcome: PromotionOutcome;
  try {
    outcome = await effect(target, record);
  } catch (error) {
    if (!(error instanceof PromotionRefusedError)) throw error;
    outcome = { kind: "failed", code: error.code, reason: error.message };
  }
  const traceparent = approval.traceparent !== undefined ? { traceparent: approval.traceparent } : {};
  let decided: PromotionRecord;
  if (outcome.kind === "updated") {
    const updatedAt = (outcome.updatedAt ?? new Date()).toISOString();
    const event = createEvent(
      EventTypes.EndpointUpdated,
      {
        runId,
        pipeline,
        runSequence,
        target,
        model,
        ...(outcome.previousModel !== undefined ? { previousModel: outcome.previousModel } : {}),
        revision: outcome.revision,
        kind,
        updatedAt,
      },
      { source: deps.source, ...traceparent },
    );
    const result = { revision: outcome.revision, ...(outcome.previousModel !== undefined ? { previousModel: outcome.previousModel } : {}), updatedAt };
    decided = await deps.promotions.decide(runId, target, { state: "done", result, failure: undefined }, event);
    deps.logger.info({ target: record.targetKey, revision: outcome.revision, kind }, "endpoint updated");
  } else {
    const event = createEvent(EventTypes.PromotionFailed, { runId, pipeline, runSequence, target, model, code: outcome.code, reason: outcome.reason }, { source: deps.source, ...traceparent });
    decided = await deps.promotions.decide(runId, target, { state: "failed", result: undefined, failure: { code: outcome.code, reason: outcome.reason } }, event);
    deps.logger.warn({ target: record.targetKey, code: outcome.code, reason: outcome.reason }, "promotion failed");
  }
  await deps.promotions.relay(decided);
  return decided;
}
