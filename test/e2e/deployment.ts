// A distributed Retrain for end-to-end suites and benchmarks: nats-server, Azurite and every service
// as its own OS process, configured only by environment variables and a retrain.yaml.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AzureBlobStore } from "@retrain/blob";
import { connectNatsBus, connectServiceBusBus, type EventBus } from "@retrain/bus";
import { runEventTypes, type AnyEvent } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import {
  Cleanup,
  freePort,
  startAzurite,
  startNatsServer,
  startServiceBusPeer,
  tempDir,
  uniqueName,
  waitFor,
  type NatsServerFixture,
  type ServiceBusPeer,
  type ServiceProcess,
} from "@retrain/testing";
import { startRestartableService, type RestartableService } from "./processes.js";

/** Options for {@link startDeployment}. */
export interface DeploymentOptions {
  /** retrain.yaml lines after the `workspaces:` part (training services, pipelines). */
  readonly config: readonly string[];
  /** Trainer processes (competing consumers). Default 1. */
  readonly trainers?: number;
  /**
   * Scoring processes sharing one store (replicas that converge through it). Default 1. With more,
   * the promoters call the first and the evaluator the last, as a load balancer would spread them.
   */
  readonly scorings?: number;
  /** Extra environment for every service (e.g. OTEL_* variables). */
  readonly env?: NodeJS.ProcessEnv;
  /** The bus every service uses: nats-server (default) or Service Bus on the AMQP test peer. */
  readonly bus?: "nats" | "servicebus";
}

/** The observer's bus: any adapter, plus raw publishing for poison-message suites. */
export type ObserverBus = EventBus & { publishRaw(type: string, body: Uint8Array): Promise<unknown> };

/** A running distributed deployment. */
export interface Deployment {
  readonly adminKey: string;
  /** Key of workspace `e2e`. */
  readonly key: string;
  readonly azureConnectionString: string;
  readonly container: string;
  readonly store: AzureBlobStore;
  readonly observer: ObserverBus;
  /** Every run event the observer saw, in arrival order. */
  readonly events: AnyEvent[];
  readonly scoring: ServiceProcess;
  /** Every scoring process (the first is {@link scoring}). */
  readonly scorings: readonly ServiceProcess[];
  readonly ingestion: ServiceProcess;
  readonly evaluator: ServiceProcess;
  readonly trainers: readonly ServiceProcess[];
  readonly registry: ServiceProcess;
  /** The notifier (webhook subscriptions); http to 127.0.0.1 allowed for local receivers. */
  readonly notifier: ServiceProcess;
  /** The environment every service was started with (to start more of them alike). */
  readonly env: NodeJS.ProcessEnv;
  /** The nats-server (fault-injection suites kill and restart it; its store survives). */
  readonly nats: NatsServerFixture;
  /** The Service Bus test peer, when `bus: "servicebus"`. */
  readonly servicebus: ServiceBusPeer | undefined;
  /** Every service process, in start order, to kill and start again (fault injection). */
  readonly services: readonly RestartableService[];
  stop(): Promise<void>;
}

/** Starts nats-server, Azurite and every service (built dist) as processes; workspace `e2e`. */
export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const cleanup = new Cleanup();
  // Every service is started restartable; the fields below name the first process of each.
  const services: RestartableService[] = [];
  const startService = async (name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<ServiceProcess> => {
    const service = await startRestartableService(name, portVariable, env, port);
    services.push(service);
    return service.current;
  };
  const adminKey = randomBytes(24).toString("base64url");
  const key = randomBytes(24).toString("base64url");
  const nats = await startNatsServer();
  cleanup.add(() => nats.stop());
  // Subscriptions appear when a service first addresses them (the peer has no administration API).
  const servicebus = options.bus === "servicebus" ? await startServiceBusPeer({ autoCreateSubscriptions: true }) : undefined;
  if (servicebus !== undefined) cleanup.add(() => servicebus.stop());
  const azurite = await startAzurite();
  cleanup.add(() => azurite.stop());
  const dir = await tempDir();
  cleanup.add(() => dir.remove());
  const container = uniqueName("e2e");
  const prefix = uniqueName("e2e");
  servicebus?.createTopic(prefix, { duplicateDetectionWindowMs: 120_000 });
  const config = join(dir.path, "retrain.yaml");
  await writeFile(config, ["workspaces:", `  - { id: e2e, keys: { primary: ${key} } }`, ...options.config].join("\n"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BUS: options.bus ?? "nats",
    ...(servicebus !== undefined
      ? { SERVICEBUS_CONNECTION_STRING: servicebus.connectionString, SERVICEBUS_TOPIC: prefix, SERVICEBUS_CREATE_ENTITIES: "false" }
      : {}),
    NATS_URL: nats.url,
    NATS_PREFIX: prefix,
    BLOB: "azure",
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AZURE_STORAGE_CONTAINER: container,
    RETRAIN_CONFIG: config,
    RETRAIN_ADMIN_KEY: adminKey,
    LOG_LEVEL: "warn",
    TRAINER_JOB_ACK_WAIT: "5s",
    SCORING_KEK: randomBytes(32).toString("base64"),
    // One key-encryption key for every service: key digests are HMACs, BES job secrets are sealed.
    RETRAIN_KEK: randomBytes(32).toString("base64"),
    SCORING_DATA_DIR: join(dir.path, "scoring"),
    NOTIFIER_ALLOW_HTTP_HOSTS: "127.0.0.1",
    ...options.env,
  };
  const store = new AzureBlobStore({ connectionString: azurite.connectionString, container, createContainer: true });
  const observer: ObserverBus =
    servicebus !== undefined
      ? await connectServiceBusBus({ connectionString: servicebus.connectionString, topic: prefix, createEntities: false, logger: silentLogger() })
      : await connectNatsBus({ servers: nats.url, prefix, logger: silentLogger() });
  cleanup.add(() => observer.close({ graceMs: 0 }));
  const events: AnyEvent[] = [];
  await observer.subscribe({
    group: "e2e-observer",
    types: runEventTypes,
    concurrency: 16,
    handler: async (event) => void events.push(event as AnyEvent),
  });
  const scoringPort = await freePort();
  const scoring = await startService("scoring", "SCORING_PORT", { ...env, SCORING_PUBLIC_URL: `http://127.0.0.1:${scoringPort}` }, scoringPort);
  cleanup.add(() => scoring.process.stop());
  const scorings = [scoring];
  for (let i = 1; i < (options.scorings ?? 1); i++) {
    const port = await freePort();
    const replica = await startService("scoring", "SCORING_PORT", { ...env, SCORING_PUBLIC_URL: `http://127.0.0.1:${port}` }, port);
    cleanup.add(() => replica.process.stop());
    scorings.push(replica);
  }
  const lastScoring = scorings[scorings.length - 1] ?? scoring;
  const withScoring = { ...env, EVALUATOR_SCORING_URL: lastScoring.url, EVALUATOR_SCORING_KEY: adminKey, PROMOTER_SCORING_URL: scoring.url, PROMOTER_SCORING_KEY: adminKey };
  const started = await Promise.all([
    startService("classic-promoter", "CLASSIC_PROMOTER_PORT", withScoring),
    startService("new-promoter", "NEW_PROMOTER_PORT", withScoring),
    startService("evaluator", "EVALUATOR_PORT", withScoring),
    startService("ingestion", "INGESTION_PORT", env),
    startService("registry", "REGISTRY_PORT", env),
    startService("notifier", "NOTIFIER_PORT", env),
    ...Array.from({ length: options.trainers ?? 1 }, () => startService("trainer", "TRAINER_PORT", env)),
  ]);
  for (const service of started) cleanup.add(() => service.process.stop());
  // Processes started again by a fault-injection suite are stopped here (the first ones above).
  cleanup.add(() => Promise.all(services.map((s) => s.current.process.stop())));
  return {
    adminKey,
    key,
    azureConnectionString: azurite.connectionString,
    container,
    store,
    observer,
    events,
    scoring,
    scorings,
    evaluator: started[2] as ServiceProcess,
    ingestion: started[3] as ServiceProcess,
    registry: started[4] as ServiceProcess,
    notifier: started[5] as ServiceProcess,
    trainers: started.slice(6),
    env,
    nats,
    servicebus,
    services,
    stop: () => cleanup.run(),
  };
}

/** A BES result reference (`Results.<output>`). */
export interface BesResult {
  readonly BaseLocation: string;
  readonly RelativeLocation: string;
  readonly SasBlobToken: string;
}

/**
 * The seed's starting point: trains a first model through the trainer's Batch Execution Service as a
 * classic client does (dataset by connection string, submit, start, poll) and returns the model output.
 */
export async function trainThroughBes(deployment: Deployment, service: string, csv: string): Promise<BesResult> {
  const trainer = deployment.trainers[0];
  if (trainer === undefined) throw new Error("no trainer process");
  const name = `uploads/${uniqueName("initial")}.csv`;
  await deployment.store.put(name, Buffer.from(csv), { contentType: "text/csv" });
  const headers = { authorization: `Bearer ${deployment.key}`, "content-type": "application/json" };
  const bes = `${trainer.url}/workspaces/e2e/services/${service}`;
  const submit = await fetch(`${bes}/jobs?api-version=2.0`, {
    method: "POST",
    headers,
    body: JSON.stringify({ Inputs: { input1: { ConnectionString: deployment.azureConnectionString, RelativeLocation: `${deployment.container}/${name}` } } }),
  });
  if (submit.status !== 200) throw new Error(`BES submit: ${submit.status} ${await submit.text()}`);
  const jobId = (await submit.json()) as string;
  await fetch(`${bes}/jobs/${jobId}/start?api-version=2.0`, { method: "POST", headers });
  const status = await waitFor(
    async () => {
      const body = (await (await fetch(`${bes}/jobs/${jobId}?api-version=2.0`, { headers })).json()) as { StatusCode: string; Results: Record<string, BesResult> | null; Details: string | null };
      if (body.StatusCode === "Failed" || body.StatusCode === "Cancelled") throw new Error(`BES job ${body.StatusCode}: ${body.Details}`);
      return body.StatusCode === "Finished" && body;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  const model = status.Results?.["output1"];
  if (model === undefined) throw new Error("the BES job has no output1");
  return model;
}
