// @retrain/scoring: the predictive web service host.
export { createScoring } from "./app.js";
export type { RegisterScoringRoutesOptions, Scoring, ScoringDeps } from "./app.js";
export { loadScoringConfig, ScoringEnv } from "./config.js";
export { applyScoringSection, ScoringFileSection } from "./config-file.js";
export { ScoringHost, ModelRejectedError } from "./host.js";
export type { ModelChangeResult, PreparedModel, ScoringHostOptions } from "./host.js";
export { KeyVault, KeyVaultError, generateApiKey, loadOrCreateKek, parseKek } from "./key-vault.js";
export { ModelLoadError, ScoreInputError, InputColumn } from "./model-runtime.js";
export { createMlRuntime } from "./ml-runtime.js";
export type { Cell, LoadedModel, ModelInfo, ModelRuntime, ScoredTable } from "./model-runtime.js";
export { planModelChange, servingLabel, targetKeyOf, defaultModelId } from "./model-updates.js";
export type { ChangePlan, ModelCandidate, ModelChange } from "./model-updates.js";
export { AuditEntry, TargetDoc, WebServiceDoc, OperationDoc } from "./documents.js";
export { matchExecute, EXECUTE_ROUTES } from "./handlers/execute.js";
export type { FastPath } from "./handlers/execute.js";
export { ScoringJobExecutor } from "./handlers/batch.js";
export type { CurrentModelBody } from "./handlers/v1.js";
