// The official Azure Service Bus emulator in containers (it needs SQL Edge beside it), for suites
// that run where a container engine answers. Its entities come from a config file: the 7.9 client's
// administration API cannot reach it.
import { GenericContainer, Network, Wait } from "testcontainers";
import { uniqueName } from "../names.js";

const EMULATOR_IMAGE = "mcr.microsoft.com/azure-messaging/servicebus-emulator:latest";
const SQL_IMAGE = "mcr.microsoft.com/azure-sql-edge:latest";

/** A topic to declare, with its subscriptions. */
export interface EmulatorTopic {
  readonly name: string;
  readonly subscriptions: readonly string[];
  /** Lock duration of its subscriptions. Default 5 000 ms. */
  readonly lockDurationMs?: number;
}

/** A running emulator. */
export interface ServiceBusEmulator {
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** Starts SQL Edge and the emulator on a private network, with `topics` declared. */
export async function startServiceBusEmulator(topics: readonly EmulatorTopic[]): Promise<ServiceBusEmulator> {
  const network = await new Network().start();
  const password = `Retrain-${uniqueName("pw")}!`;
  const sql = await new GenericContainer(SQL_IMAGE)
    .withNetwork(network)
    .withNetworkAliases("sqledge")
    .withEnvironment({ ACCEPT_EULA: "Y", MSSQL_SA_PASSWORD: password })
    .start();
  const config = {
    UserConfig: {
      Namespaces: [
        {
          Name: "sbemulatorns",
          Queues: [],
          Topics: topics.map((topic) => ({
            Name: topic.name,
            Properties: { RequiresDuplicateDetection: true, DuplicateDetectionHistoryTimeWindow: "PT2M" },
            Subscriptions: topic.subscriptions.map((Name) => ({
              Name,
              Properties: { LockDuration: `PT${Math.max(5, Math.round((topic.lockDurationMs ?? 5_000) / 1000))}S`, MaxDeliveryCount: 10 },
              Rules: [],
            })),
          })),
        },
      ],
      Logging: { Type: "Console" },
    },
  };
  const emulator = await new GenericContainer(EMULATOR_IMAGE)
    .withNetwork(network)
    .withEnvironment({ ACCEPT_EULA: "Y", SQL_SERVER: "sqledge", MSSQL_SA_PASSWORD: password })
    .withCopyContentToContainer([{ content: JSON.stringify(config), target: "/ServiceBus_Emulator/ConfigFiles/Config.json" }])
    .withExposedPorts(5672)
    .withWaitStrategy(Wait.forLogMessage(/Emulator Service is Successfully Up/))
    .start();
  return {
    connectionString: `Endpoint=sb://${emulator.getHost()}:${emulator.getMappedPort(5672)};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;`,
    async stop() {
      await emulator.stop();
      await sql.stop();
      await network.stop();
    },
  };
}
