export { createTrainer } from "./app.js";
export type { Trainer, TrainerDeps } from "./app.js";
export { loadTrainerConfig, TrainerEnv } from "./config.js";
export { TrainerFileSection, applyTrainerSection } from "./config-file.js";
export { TrainingServiceDefinition, StoredTrainingService, TrainingServices } from "./training-services.js";
export { TrainingExecutor } from "./executor.js";
