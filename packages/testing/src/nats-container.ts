import { GenericContainer, Wait } from "testcontainers";
import type { NatsServerFixture } from "./nats.js";

/** nats-server in a container (used where a container engine answers). */
export async function startNatsContainer(): Promise<NatsServerFixture> {
  const container = await new GenericContainer("nats:2.10-alpine")
    .withCommand(["-js", "-sd", "/data"])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  const port = container.getMappedPort(4222);
  return {
    url: `nats://${container.getHost()}:${port}`,
    port,
    storeDir: "/data",
    runtime: "container",
    async kill() {
      await container.stop({ timeout: 0, remove: false });
    },
    async restart() {
      await container.restart();
    },
    async stop() {
      await container.stop();
    },
  };
}
