// The trainer as its own OS process (dist/main.js) over a real nats-server and Azurite: the event
// path end to end, and a kill -9 in the middle of training.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { jobIdForRun, parseJob } from "@retrain/bes";
import { AzureBlobStore, readJson } from "@retrain/blob";
import { connectNatsBus, type NatsBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, ulid, type CloudEvent } from "@retrain/contracts";
import { decodeIlearner } from "@retrain/ml";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, freePort, spawnManaged, startAzurite, startNatsServer, tempDir, uniqueName, waitFor, waitForPort, type ManagedProcess } from "@retrain/testing";
import { binaryCsv } from "./test-support.js";

const root = join(__dirname, "..", "..", "..");
const KEY = "ws-proc-primary-key-0123456789";

describe("trainer process on NATS JetStream + Azurite", () => {
  const cleanup = new Cleanup();
  let env: NodeJS.ProcessEnv;
  let store: AzureBlobStore;
  let bus: NatsBus;
  let trainer: ManagedProcess | undefined;
  let trainerUrl = "";
  let azuriteConnection = "";
  const trained: Array<CloudEvent<typeof EventTypes.ModelTrained>> = [];
  const failed: Array<CloudEvent<typeof EventTypes.TrainingFailed>> = [];

  async function startTrainer(): Promise<ManagedProcess> {
    const port = await freePort();
    const proc = spawnManaged(process.execPath, [join(root, "services/trainer/dist/main.js")], { env: { ...env, TRAINER_PORT: String(port) } });
    trainerUrl = `http://127.0.0.1:${port}`;
    try {
      await waitForPort(port, "127.0.0.1", 30_000);
    } catch (error) {
      throw new Error(`trainer did not start:\n${proc.output()}`, { cause: error });
    }
    return proc;
  }

  beforeAll(async () => {
    execFileSync("npx", ["tsc", "-b", "services/trainer"], { cwd: root, stdio: "inherit" });
    const nats = await startNatsServer();
    cleanup.add(() => nats.stop());
    const azurite = await startAzurite();
    cleanup.add(() => azurite.stop());
    azuriteConnection = azurite.connectionString;
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const config = join(dir.path, "retrain.yaml");
    await writeFile(
      config,
      [
        "workspaces:",
        "  - id: ws-proc",
        `    keys: { primary: ${KEY} }`,
        "trainingServices:",
        "  - { workspace: ws-proc, name: quick, learner: Two-Class Logistic Regression, label: label }",
        "  - workspace: ws-proc",
        "    name: slow",
        "    learner: Two-Class Boosted Decision Tree",
        "    label: label",
        "    parameters: { numberOfTreesConstructed: 400, maximumNumberOfLeavesPerTree: 63, learningRate: 0.05 }",
      ].join("\n"),
    );
    const prefix = uniqueName("trainer");
    const container = uniqueName("retrain");
    env = {
      ...process.env,
      BUS: "nats",
      NATS_URL: nats.url,
      NATS_PREFIX: prefix,
      BLOB: "azure",
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AZURE_STORAGE_CONTAINER: container,
      RETRAIN_CONFIG: config,
      TRAINER_JOB_ACK_WAIT: "2s",
      LOG_LEVEL: "warn",
    };
    store = new AzureBlobStore({ connectionString: azurite.connectionString, container, createContainer: true });
    bus = await connectNatsBus({ servers: nats.url, prefix, logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    trainer = await startTrainer();
    cleanup.add(() => trainer?.stop());
    await bus.subscribe({ group: "observer", types: [EventTypes.ModelTrained], handler: async (e) => void trained.push(e) });
    await bus.subscribe({ group: "observer-failed", types: [EventTypes.TrainingFailed], handler: async (e) => void failed.push(e) });
  }, 180_000);
  afterAll(() => cleanup.run(), 60_000);

  async function dataArrived(service: string, csv: string): Promise<CloudEvent<typeof EventTypes.DataArrived>> {
    const runId = ulid();
    const name = `ingestion/datasets/test/${runId}.csv`;
    const props = await store.put(name, Buffer.from(csv), { contentType: "text/csv" });
    const example = exampleData(EventTypes.DataArrived);
    return createEvent(
      EventTypes.DataArrived,
      {
        ...example,
        runId,
        pipeline: "proc",
        runSequence: 1,
        dataset: { container: "retrain", name, etag: props.etag, size: props.size, sha256: createHash("sha256").update(csv).digest("hex") },
        plan: { ...example.plan, pipeline: "proc", runSequence: 1, trainingWebService: { workspace: "ws-proc", service }, split: { fraction: 0.2, seed: 3 } },
      },
      { source: "/test" },
    );
  }

  it("DataArrived → ModelTrained", async () => {
    const event = await dataArrived("quick", binaryCsv(5000, 2));
    await bus.publish(event);
    const got = await waitFor(() => trained.find((t) => t.data.runId === event.data.runId), { timeoutMs: 60_000 });
    expect(got.data.metrics["AUC"]).toBeGreaterThan(0.8);
    expect(got.data.model.blob.name).toMatch(/\.ilearner$/);
    expect((await store.head(got.data.model.blob.name))?.size).toBe(got.data.model.blob.size);
  }, 90_000);

  it("serves the documented BES client protocol on Azurite: submit → start → poll every second → download via Base+Relative+SAS", async () => {
    await store.put("uploads/bes-input.csv", Buffer.from(binaryCsv(3000, 8)), { contentType: "text/csv" });
    const container = env["AZURE_STORAGE_CONTAINER"] ?? "";
    const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
    const base = `${trainerUrl}/workspaces/ws-proc/services/quick`;
    const submit = await fetch(`${base}/jobs?api-version=2.0`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        Inputs: { input1: { ConnectionString: azuriteConnection, RelativeLocation: `${container}/uploads/bes-input.csv` } },
        Outputs: { output1: { ConnectionString: azuriteConnection, RelativeLocation: `/${container}/results/model.ilearner` } },
      }),
    });
    expect(submit.status).toBe(200);
    const id = (await submit.json()) as string;
    expect((await fetch(`${base}/jobs/${id}/start?api-version=2.0`, { method: "POST", headers })).status).toBe(204);
    // The classic clients poll once per second until Finished, Failed or Cancelled.
    const status = await waitFor(
      async () => {
        const body = (await (await fetch(`${base}/jobs/${id}?api-version=2.0`, { headers })).json()) as {
          StatusCode: string;
          Results: Record<string, { BaseLocation: string; RelativeLocation: string; SasBlobToken: string }> | null;
        };
        return ["Finished", "Failed", "Cancelled"].includes(body.StatusCode) && body;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    expect(status.StatusCode).toBe("Finished");
    const model = status.Results?.["output1"];
    expect(model?.RelativeLocation).toBe(`${container}/results/model.ilearner`);
    expect(model?.SasBlobToken).toMatch(/sp=r/);
    const download = await fetch(`${model?.BaseLocation}${model?.RelativeLocation}${model?.SasBlobToken}`);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(decodeIlearner(bytes).learner).toBe("Two-Class Logistic Regression");
    expect(status.Results?.["output2"]?.RelativeLocation).toMatch(/output2\.csv$/);
  }, 90_000);

  it("a bad CSV → TrainingFailed with the line", async () => {
    const lines = binaryCsv(40, 4).split("\n");
    lines[9] = "oops";
    const event = await dataArrived("quick", lines.join("\n"));
    await bus.publish(event);
    const failure = await waitFor(() => failed.find((f) => f.data.runId === event.data.runId), { timeoutMs: 60_000 });
    expect(failure.data).toMatchObject({ code: "CsvRaggedRow", location: "line 10" });
  }, 90_000);

  it("kill -9 mid-training: the job completes after restart, with one ModelTrained", async () => {
    const event = await dataArrived("slow", binaryCsv(60_000, 6));
    const jobBlob = `trainer/jobs/ws-proc/slow/${jobIdForRun(event.data.runId)}.json`;
    await bus.publish(event);
    await waitFor(async () => (await readJson(store, jobBlob, parseJob))?.value.status === "Running", { timeoutMs: 60_000, intervalMs: 50 });
    await trainer?.stop("SIGKILL");
    const killedAt = await readJson(store, jobBlob, parseJob);
    expect(killedAt?.value.status).toBe("Running");
    expect(trained.some((t) => t.data.runId === event.data.runId)).toBe(false);
    trainer = await startTrainer();
    await waitFor(() => trained.find((t) => t.data.runId === event.data.runId), { timeoutMs: 120_000 });
    const finished = await waitFor(async () => {
      const job = (await readJson(store, jobBlob, parseJob))?.value;
      return job?.status === "Finished" && job.outbox.length === 0 && job;
    });
    expect(finished.attempts).toBe(2);
    expect(trained.filter((t) => t.data.runId === event.data.runId)).toHaveLength(1);
  }, 180_000);
});
