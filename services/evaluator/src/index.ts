// @retrain/evaluator: ModelTrained → ModelApproved / ModelRejected / ModelAwaitingApproval.
export { createEvaluator, evaluationView, DecisionBody } from "./app.js";
export type { Evaluator, EvaluatorDeps } from "./app.js";
export { loadEvaluatorConfig, EvaluatorEnv } from "./config.js";
export { Evaluations, EvaluationDocument, EvaluationState, ChampionOutcome, ApprovalRequest, championMetrics } from "./evaluation.js";
export { judge, describeForApproval, formatMetric, gainOver } from "./policy.js";
export type { AutomaticPolicy, Verdict } from "./policy.js";
export { scoreOnHoldout, HoldoutScoringError } from "./holdout.js";
export { ScoringClient, ScoringLookupError } from "./scoring-client.js";
export type { Champion, ScoringClientOptions } from "./scoring-client.js";
export { onModelTrained } from "./handlers/model-trained.js";
export type { ChampionSource, ModelTrainedDeps } from "./handlers/model-trained.js";
export { decideApproval, evaluationFor } from "./handlers/approvals.js";
export type { ApprovalDecision, ApprovalDeps } from "./handlers/approvals.js";
export { relayOutbox } from "./relay.js";
