// @retrain/registry: every run event in an append-only log; run timelines, lineage, promotion history.
export { createRegistry, RUN_EVENT_TYPES, runSummary, runTimeline, runLineage, servedAt } from "./app.js";
export type { Registry, RegistryDeps } from "./app.js";
export { loadRegistryConfig, RegistryEnv } from "./config.js";
export { appendToLog, readLog, logBlobName, LOG_PREFIX } from "./log.js";
export type { LogEntry } from "./log.js";
export { Projections, applyToRun, applyToTarget, runOutcome, runBlobName, targetBlobName, RUNS_PREFIX, TARGETS_PREFIX } from "./projections.js";
export type { RunDocument, TargetDocument, PromotionEntry, Stage, StageName, RunOutcome, EndpointUpdate } from "./projections.js";
