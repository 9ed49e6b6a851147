import { testEnvironment } from "./config.js";

let probe: Promise<boolean> | undefined;

/**
 * True when testcontainers finds a working container engine. Without one it rejects within
 * milliseconds, so asking costs nothing; the answer is cached per process.
 */
export function containerRuntimeAvailable(): Promise<boolean> {
  probe ??= (async () => {
    if (testEnvironment()["RETRAIN_TEST_NO_CONTAINERS"] === "1") return false;
    try {
      const { getContainerRuntimeClient } = await import("testcontainers");
      await getContainerRuntimeClient();
      return true;
    } catch {
      return false;
    }
  })();
  return probe;
}
