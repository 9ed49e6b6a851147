import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createBlobUrlHandler, FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, ulid, type CloudEvent } from "@retrain/contracts";
import { decodeIlearner, metricsFromCsv } from "@retrain/ml";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, collect, freePort, tempDir, waitFor } from "@retrain/testing";
import { createTrainer, type Trainer } from "./app.js";
import { binaryCsv } from "./test-support.js";

const KEY = "ws-test-primary-key-0123456789";
type Ref = { ConnectionString: string | null; BaseLocation: string; RelativeLocation: string; SasBlobToken: string };
type Status = { StatusCode: string; Results: Record<string, Ref> | null; Details: string | null };
const json = async <T>(response: Response | Promise<Response>): Promise<T> => (await (await response).json()) as T;

describe("trainer: training web services over BES and the event path (in-memory bus, filesystem store)", () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let store: FileSystemBlobStore;
  let bus: MemoryBus;
  let trainer: Trainer;
  let base: string;
  const trained = collect<CloudEvent<typeof EventTypes.ModelTrained>>(1, 60_000);
  const failed: Array<CloudEvent<typeof EventTypes.TrainingFailed>> = [];

  beforeAll(async () => {
    // The training worker runs built JavaScript.
    execFileSync("npx", ["tsc", "-b", "packages/ml"], { cwd: `${__dirname}/../../..`, stdio: "inherit" });
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const port = await freePort();
    store = new FileSystemBlobStore({ root: dir.path, urlSecret: "url-secret-for-tests", publicBaseUrl: `http://127.0.0.1:${port}` });
    bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    trainer = createTrainer({
      store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ workspaces: [{ id: "ws-test", keys: { primary: KEY } }] }),
      container: "retrain",
      ownHost: `127.0.0.1:${port}`,
    });
    const { app } = createHttpApp({ serviceName: "trainer", logger: silentLogger(), routes: (r) => trainer.registerRoutes(r) });
    const urls = createBlobUrlHandler(store, { secret: "url-secret-for-tests" });
    server = await startHttpServer((req, res) => {
      if (!urls(req, res)) app(req, res);
    }, { port });
    cleanup.add(() => server.close(0));
    await trainer.start();
    cleanup.add(() => trainer.stop(0));
    await bus.subscribe({ group: "observer", types: [EventTypes.ModelTrained], handler: async (e) => trained.push(e) });
    await bus.subscribe({ group: "observer-failed", types: [EventTypes.TrainingFailed], handler: async (e) => void failed.push(e) });
    base = `${server.url}/workspaces/ws-test/services/churn-training`;
    const put = await fetch(`${server.url}/v1/workspaces/ws-test/training-services/churn-training`, {
      method: "PUT",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ learner: "Two-Class Logistic Regression", label: "label", parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 0.01 }, split: { fraction: 0.25, seed: 7 } }),
    });
    expect(put.status).toBe(201);
  }, 120_000);
  afterAll(() => cleanup.run());

  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  async function upload(csv: string): Promise<{ name: string; ref: Omit<Ref, "ConnectionString">; sha256: string; etag: string; size: number }> {
    const name = `uploads/${ulid()}.csv`;
    const props = await store.put(name, Buffer.from(csv), { contentType: "text/csv" });
    const url = new URL(await store.readUrl(name, 600_000));
    return {
      name,
      ref: { BaseLocation: `${url.origin}/_blobs/`, RelativeLocation: name, SasBlobToken: url.search },
      sha256: createHash("sha256").update(csv).digest("hex"),
      etag: props.etag,
      size: props.size,
    };
  }

  it("trains through the documented BES protocol and hands back a loadable .ilearner and Evaluate Model CSV", async () => {
    const input = await upload(binaryCsv(4000, 3));
    const id = await json<string>(call("POST", "/jobs?api-version=2.0", { Inputs: { input1: input.ref } }));
    expect((await call("POST", `/jobs/${id}/start?api-version=2.0`)).status).toBe(204);
    const done = await waitFor(async () => {
      const status = await json<Status>(call("GET", `/jobs/${id}?api-version=2.0`));
      return ["Finished", "Failed", "Cancelled"].includes(status.StatusCode) && status;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    expect(done.Details).toBeNull();
    expect(done.StatusCode).toBe("Finished");
    const model = done.Results?.["output1"];
    const evaluation = done.Results?.["output2"];
    expect(model?.RelativeLocation).toMatch(/output1\.ilearner$/);
    const bytes = Buffer.from(await (await fetch(`${model?.BaseLocation}${model?.RelativeLocation}${model?.SasBlobToken}`)).arrayBuffer());
    const file = decodeIlearner(bytes);
    expect(file.learner).toBe("Two-Class Logistic Regression");
    expect(file.lineage.datasetSha256).toBe(input.sha256);
    expect(file.featureSchema.inputs.map((f) => f.name)).toEqual(["x1", "x2", "color"]);
    const metrics = metricsFromCsv(await (await fetch(`${evaluation?.BaseLocation}${evaluation?.RelativeLocation}${evaluation?.SasBlobToken}`)).text());
    expect("AUC" in metrics && metrics.AUC).toBeGreaterThan(0.8);
  }, 90_000);

  function dataArrived(dataset: { name: string; sha256: string; etag: string; size: number }, runId = ulid()): CloudEvent<typeof EventTypes.DataArrived> {
    const example = exampleData(EventTypes.DataArrived);
    return createEvent(
      EventTypes.DataArrived,
      {
        ...example,
        runId,
        pipeline: "churn",
        runSequence: 1,
        dataset: { container: "retrain", name: dataset.name, etag: dataset.etag, size: dataset.size, sha256: dataset.sha256 },
        plan: { ...example.plan, pipeline: "churn", runSequence: 1, trainingWebService: { workspace: "ws-test", service: "churn-training" }, split: { fraction: 0.2, seed: 11 } },
      },
      { source: "/test" },
    );
  }

  it("turns DataArrived into one job and one ModelTrained, even when the event arrives twice", async () => {
    const input = await upload(binaryCsv(3000, 5));
    const event = dataArrived(input);
    await bus.publish(event);
    await bus.publish(event, { messageId: `${event.id}-again` }); // a second delivery past the broker's dedupe
    const [modelTrained] = await trained.done;
    expect(modelTrained?.data.runId).toBe(event.data.runId);
    expect(modelTrained?.data.metrics["AUC"]).toBeGreaterThan(0.8);
    expect(modelTrained?.data.lineage).toMatchObject({ datasetSha256: input.sha256, rows: 3000, holdoutRows: 600, trainingRows: 2400, seed: 11 });
    expect(modelTrained?.data.holdout.name).toMatch(/holdout\.csv$/);
    const jobs = await trainer.jobs.jobs.list("ws-test", "churn-training");
    expect(jobs.filter((j) => j.runId === event.data.runId)).toHaveLength(1);
    const holdout = (await store.getBuffer(modelTrained?.data.holdout.name ?? "")).body.toString();
    expect(holdout.trim().split(/\r?\n/)).toHaveLength(601);
  }, 90_000);

  it("ends a run whose CSV is ragged with TrainingFailed naming the line", async () => {
    const csv = binaryCsv(50, 9).split("\n");
    csv[17] = "1.0,2.0";
    const input = await upload(csv.join("\n"));
    const event = dataArrived(input);
    await bus.publish(event);
    const failure = await waitFor(() => failed.find((f) => f.data.runId === event.data.runId), { timeoutMs: 30_000 });
    expect(failure.data.code).toBe("CsvRaggedRow");
    expect(failure.data.location).toBe("line 18");
    expect(failure.data.reason).toContain("line 18");
  }, 60_000);

  it("ends a run whose training web service does not exist with TrainingFailed", async () => {
    const input = await upload(binaryCsv(20, 1));
    const event = dataArrived(input);
    const wrong = createEvent(EventTypes.DataArrived, { ...event.data, plan: { ...event.data.plan, trainingWebService: { workspace: "ws-test", service: "nope" } } }, { source: "/test" });
    await bus.publish(wrong);
    const failure = await waitFor(() => failed.find((f) => f.data.runId === wrong.data.runId), { timeoutMs: 30_000 });
    expect(failure.data.code).toBe("WebServiceNotFound");
  });
});
