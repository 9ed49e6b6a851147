// `node services/registry/dist/rebuild.js`: deletes the registry's projections and rebuilds them from
// its event log alone. Wiring only (the logic is rebuildFromLog). Stop the registry first: events it
// applies while the projections are deleted would be lost from them until the next rebuild.
import { openBlobStore } from "@retrain/runtime";
import { createLogger } from "@retrain/telemetry";
import { rebuildFromLog } from "./app.js";
import { loadRegistryConfig } from "./config.js";

const config = loadRegistryConfig();
const logger = createLogger({ name: "registry-rebuild", level: config.LOG_LEVEL });
const store = openBlobStore(config);
const { events } = await rebuildFromLog(store, logger);
await store.close();
console.log(JSON.stringify({ rebuilt: true, events }));
