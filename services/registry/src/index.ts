// @retrain/registry: every run event in an append-only log; run timelines, lineage, promotion history.
export { createRegistry, REBUILD_MARKER, rebuildFromLog, RUN_EVENT_TYPES, runSummary, runTimeline, runTimelineWithReconciler, runLineage, servedAt } from "./app.js";
export type { Registry, RegistryDeps } from "./app.js";
export { loadRegistryConfig, reconcilerOptions, RegistryEnv } from "./config.js";
export { awaitedStage, DEFAULT_STAGE_DEADLINES_MS, RECONCILER_PREFIX, Reconciler, ReconcilerDocument, reconcilerBlobName } from "./reconciler.js";
export type { ReconcileAction, ReconcilerDeps, ReconcilerOptions, StageDeadlines } from "./reconciler.js";
export { publishRollback, requestRollback, RollbackDocument, RollbackRequest, ROLLBACKS_PREFIX, rollbackBlobName } from "./rollback.js";
export type { RollbackAccepted, RollbackDeps } from "./rollback.js";
export { appendToLog, readLog, logBlobName, LOG_PREFIX } from "./log.js";
export type { LogEntry } from "./log.js";
export { Projections, RunOutcome, applyToRun, applyToTarget, runOutcome, runBlobName, targetBlobName, RUNS_PREFIX, TARGETS_PREFIX } from "./projections.js";
export type { RunDocument, TargetDocument, PromotionEntry, Stage, StageName, EndpointUpdate } from "./projections.js";
