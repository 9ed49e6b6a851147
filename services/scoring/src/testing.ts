// Test support other services' tests use with a real scoring host (the `@retrain/scoring/testing` door).
export { trainLogisticModel, corrupt } from "./test-support/models.js";
export type { TrainModelOptions } from "./test-support/models.js";
