// @retrain/new-promoter: promotes approved models to new (ARM) web services.
export { createNewPromoter } from "./app.js";
export type { NewPromoter, NewPromoterDeps } from "./app.js";
export { NewPromoterEnv, loadNewPromoterConfig } from "./config.js";
export { ArmClient, ARM_API_VERSION } from "./arm-client.js";
export type { ArmClientOptions } from "./arm-client.js";
