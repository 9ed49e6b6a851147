export { PlatformEnv } from "./platform-config.js";
export { openBlobStore, connectBus, ownStoreHost, platformKek } from "./adapters.js";
export { WorkspaceConfig, RetrainConfigFile, ConfigFileError, readConfigFile, parseSection } from "./config-file.js";
export { KEYRING_BLOB, Keyring, KeyringError, generatedAdminKeyNotice, keyVerifier, openServiceKeyring } from "./keys.js";
export type { KeySlot, OpenKeyringOptions, OpenedKeyring, OperatorView, WorkspaceKeysView } from "./keys.js";
