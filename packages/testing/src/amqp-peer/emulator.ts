import type { EmulatorTopic, ServiceBusEmulator } from "./emulator-container.js";

/** Starts the official Service Bus emulator (testcontainers is loaded only when this is called). */
export async function startServiceBusEmulator(topics: readonly EmulatorTopic[]): Promise<ServiceBusEmulator> {
  const { startServiceBusEmulator: start } = await import("./emulator-container.js");
  return start(topics);
}
