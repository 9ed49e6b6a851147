// @retrain/promotion: what both promoters share — the promotion record per (run, target) with its
// inbox and outbox, the step that runs a promotion exactly once in effect, and scoring-host helpers.
export { PromotionRecord, PromotionState } from "./record.js";
export type { PromotionOutcome } from "./record.js";
export { PromotionStore, targetKeyHash } from "./promotion-store.js";
export type { BeginResult, PromotionKey } from "./promotion-store.js";
export { promoteTarget } from "./promote-target.js";
export { subscribeRunControl } from "./run-control.js";
export type { PromoteTargetDeps, PromotionEffect } from "./promote-target.js";
export { PromotionRefusedError, ScoringHostError } from "./errors.js";
export { callScoringHost, refusal, redact, isRecord } from "./scoring-http.js";
export type { CallOptions, HostAnswer } from "./scoring-http.js";
export { modelReadLocation } from "./model-location.js";
export type { ModelLocation } from "./model-location.js";
export { sampleRowFromSwagger } from "./smoke.js";
