import type { BlobStore } from "@retrain/blob";
import { isBlobError } from "@retrain/blob";
import type { EventBus, HandlerContext } from "@retrain/bus";
import { createEvent, EventTypes, targetKey, type AnyEvent, type CloudEvent, type EndpointTarget, type Metrics, type ModelTrained } from "@retrain/contracts";
import { inboxAdd } from "@retrain/bus";
import { isDatasetError, readCsv, type DataFrame } from "@retrain/ml";
import { championMetrics, type ChampionOutcome, type EvaluationDocument, type Evaluations } from "../evaluation.js";
import { HoldoutScoringError, scoreOnHoldout } from "../holdout.js";
import { describeForApproval, judge } from "../policy.js";
import { relayOutbox } from "../relay.js";
import { isCancelled } from "./run-control.js";
import type { Champion } from "../scoring-client.js";

/** Where champions come from (the scoring host over HTTP, see `ScoringClient`). */
export interface ChampionSource {
  championOf(target: EndpointTarget, signal?: AbortSignal): Promise<Champion | undefined>;
}

/** What the ModelTrained handler needs. */
export interface ModelTrainedDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly evaluations: Evaluations;
  readonly champions: ChampionSource;
  /** CloudEvents `source` of the events published. */
  readonly source: string;
}

/** The holdout or the challenger cannot be used at all: the run is rejected with this reason. */
class UnusableInput extends Error {
  override readonly name = "UnusableInput";
}

/**
 * ModelTrained → score the challenger and each target's champion on the run's holdout rows, apply the
 * plan's policy, and record the decision with its event (ModelApproved, ModelRejected or
 * ModelAwaitingApproval) in the run's evaluation document in one compare-and-set; then relay it.
 * A run that has an evaluation already gets no second decision (only the delivery is recorded).
 */
export async function onModelTrained(
  event: CloudEvent<typeof EventTypes.ModelTrained>,
  context: HandlerContext<typeof EventTypes.ModelTrained>,
  deps: ModelTrainedDeps,
): Promise<void> {
  const trained = event.data;
  if (await isCancelled(deps.store, trained.runId)) {
    context.logger.info({ run_id: trained.runId }, "run was cancelled; its model is not evaluated");
    return;
  }
  const existing = await deps.evaluations.get(trained.runId);
  if (existing !== undefined) {
    context.logger.info({ state: existing.state }, "run evaluated already; duplicate ModelTrained ignored");
    const { value } = await deps.evaluations.update(trained.runId, (current) =>
      current === undefined || current.inbox.includes(event.id) ? undefined : { ...current, inbox: inboxAdd(current.inbox, event.id) },
    );
    if (value !== undefined) await relayOutbox(value, deps);
    return;
  }

  const doc = await evaluate(trained, event, context, deps);
  // A cancel that came in while the challenger was being scored: the decision is dropped.
  if (await isCancelled(deps.store, trained.runId)) {
    context.logger.info({ run_id: trained.runId }, "run was cancelled while it was evaluated; no decision is published");
    return;
  }
  await deps.evaluations.markOutbox(trained.runId);
  const { value, changed } = await deps.evaluations.update(trained.runId, (current) => {
    if (current === undefined) return doc;
    // Another delivery decided first: keep its decision, remember this delivery.
    return current.inbox.includes(event.id) ? undefined : { ...current, inbox: inboxAdd(current.inbox, event.id) };
  });
  if (changed && value === doc) context.logger.info({ state: doc.state, reason: doc.reason }, "run evaluated");
  if (value !== undefined) await relayOutbox(value, deps);
}

async function evaluate(
  trained: ModelTrained,
  event: CloudEvent<typeof EventTypes.ModelTrained>,
  context: HandlerContext<typeof EventTypes.ModelTrained>,
  deps: ModelTrainedDeps,
): Promise<EvaluationDocument> {
  const now = new Date().toISOString();
  const policy = trained.plan.evaluation;
  const base = { runId: trained.runId, pipeline: trained.pipeline, runSequence: trained.runSequence };
  const options = { source: deps.source, ...(event.traceparent !== undefined ? { traceparent: event.traceparent } : {}) };
  const doc = (fields: Pick<EvaluationDocument, "state" | "challenger" | "champions" | "reason">, outbox: AnyEvent, extra: Partial<EvaluationDocument> = {}): EvaluationDocument => ({
    version: 1,
    runId: trained.runId,
    workspace: trained.plan.trainingWebService.workspace,
    trained,
    ...fields,
    evaluatedAt: now,
    ...(fields.state !== "awaiting-approval" ? { decidedAt: now } : {}),
    ...extra,
    inbox: [event.id],
    outbox: [outbox],
  });
  const judgement = (challenger: Metrics, champions: readonly ChampionOutcome[], reason: string) => ({
    ...base,
    plan: trained.plan,
    model: trained.model,
    challenger,
    champions: championMetrics(champions),
    reason,
  });

  let holdout: DataFrame;
  let challenger: Metrics;
  try {
    holdout = await readHoldout(deps.store, trained, context.signal);
    challenger = await scoreChallenger(deps.store, trained, holdout, context.signal);
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    const reason = `The challenger could not be evaluated: ${error.message}`;
    context.logger.warn({ reason }, "run rejected: unusable input");
    return doc({ state: "rejected", challenger: {}, champions: [], reason }, createEvent(EventTypes.ModelRejected, judgement({}, [], reason), options));
  }

  const champions = await scoreChampions(trained.plan.targets, holdout, deps.champions, context);
  if (policy.mode === "manual") {
    const reason = describeForApproval(policy.primaryMetric, challenger, champions);
    return doc(
      { state: "awaiting-approval", challenger, champions, reason },
      createEvent(EventTypes.ModelAwaitingApproval, judgement(challenger, champions, reason), options),
      { approval: { state: "pending", requestedAt: now } },
    );
  }
  const verdict = judge(policy, challenger, champions);
  const outcome = verdict.approved
    ? createEvent(EventTypes.ModelApproved, { ...judgement(challenger, champions, verdict.reason), kind: "evaluation" }, options)
    : createEvent(EventTypes.ModelRejected, judgement(challenger, champions, verdict.reason), options);
  return doc({ state: verdict.approved ? "approved" : "rejected", challenger, champions, reason: verdict.reason }, outcome);
}

async function readHoldout(store: BlobStore, trained: ModelTrained, signal: AbortSignal): Promise<DataFrame> {
  try {
    const { body } = await store.get(trained.holdout.name, { signal });
    return await readCsv(body, { abortSignal: signal });
  } catch (error) {
    if (isBlobError(error, "NotFound")) throw new UnusableInput(`the holdout rows (${trained.holdout.name}) are gone.`, { cause: error });
    if (isDatasetError(error)) throw new UnusableInput(`the holdout rows are not a readable CSV (${error.code}): ${error.message}`, { cause: error });
    throw error;
  }
}

async function scoreChallenger(store: BlobStore, trained: ModelTrained, holdout: DataFrame, signal: AbortSignal): Promise<Metrics> {
  let bytes: Buffer;
  try {
    bytes = (await store.getBuffer(trained.model.blob.name, { signal })).body;
  } catch (error) {
    if (isBlobError(error, "NotFound")) throw new UnusableInput(`the challenger model (${trained.model.blob.name}) is gone.`, { cause: error });
    throw error;
  }
  try {
    return scoreOnHoldout(bytes, holdout, "the challenger");
  } catch (error) {
    if (error instanceof HoldoutScoringError) throw new UnusableInput(error.message, { cause: error });
    throw error;
  }
}

/** Each distinct target's champion, scored on the holdout; a model served by several targets is scored once. */
async function scoreChampions(
  targets: readonly EndpointTarget[],
  holdout: DataFrame,
  source: ChampionSource,
  context: HandlerContext<typeof EventTypes.ModelTrained>,
): Promise<ChampionOutcome[]> {
  const outcomes: ChampionOutcome[] = [];
  const bySha = new Map<string, { metrics: Metrics } | { error: string }>();
  const seen = new Set<string>();
  for (const target of targets) {
    const key = targetKey(target);
    if (seen.has(key)) continue;
    seen.add(key);
    const champion = await source.championOf(target, context.signal);
    if (champion === undefined) {
      outcomes.push({ target: key, status: "none", note: "the target serves no model yet" });
      continue;
    }
    let scored = bySha.get(champion.sha256);
    if (scored === undefined) {
      try {
        scored = { metrics: scoreOnHoldout(champion.bytes, holdout, `the champion of ${key}`) };
      } catch (error) {
        if (!(error instanceof HoldoutScoringError)) throw error;
        scored = { error: error.message };
      }
      bySha.set(champion.sha256, scored);
    }
    const identity = { target: key, modelId: champion.modelId, revision: champion.revision, runSequence: champion.runSequence };
    if ("error" in scored) {
      context.logger.warn({ target: key, reason: scored.error }, "champion cannot be scored on the holdout; judged by threshold only");
      outcomes.push({ ...identity, status: "unscorable", note: scored.error });
    } else {
      outcomes.push({ ...identity, status: "served", metrics: scored.metrics });
    }
  }
  return outcomes;
}
