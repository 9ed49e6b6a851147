export { PlatformEnv } from "./platform-config.js";
export { openBlobStore, connectBus, ownStoreHost } from "./adapters.js";
export { WorkspaceConfig, RetrainConfigFile, ConfigFileError, readConfigFile, parseSection } from "./config-file.js";
export { keyVerifier } from "./keys.js";
