// @retrain/classic-promoter: promotes approved models to classic web service endpoints.
export { createClassicPromoter } from "./app.js";
export type { ClassicPromoter, ClassicPromoterDeps } from "./app.js";
export { ClassicPromoterEnv, loadClassicPromoterConfig } from "./config.js";
export { ClassicScoringClient } from "./scoring-client.js";
export type { ClassicScoringClientOptions } from "./scoring-client.js";
