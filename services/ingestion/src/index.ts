export { createIngestion } from "./app.js";
export type { Ingestion, IngestionDeps } from "./app.js";
export { IngestionEnv, loadIngestionConfig } from "./config.js";
export { IngestionFileSection, applyIngestionSection } from "./config-file.js";
export { PipelineDefinition, StoredPipeline, Pipelines } from "./pipelines.js";
export { RunRecord, PipelineState, RunLedger } from "./runs.js";
export { CronSyntaxError, cronMatches, parseCron } from "./cron.js";
export type { CronSchedule } from "./cron.js";
