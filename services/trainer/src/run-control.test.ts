// Run control in the trainer: RunCancelled cancels the run's job (running or not yet made) and nothing
// is trained; the reconciler's request re-publishes the run's training outcome with the same id.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus, type EventBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, exampleData, ulid, type AnyEvent, type CloudEvent } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { jobIdForRun } from "@retrain/bes";
import { createTrainer, type Trainer } from "./app.js";
import { trainerRun } from "./handlers/run-control.js";
import { binaryCsv } from "./test-support.js";

const KEY = "ws-test-primary-key-0123456789";

/** A MemoryBus that keeps every publish with its transport id. */
class RecordingBus extends MemoryBus {
  readonly published: Array<{ event: AnyEvent; messageId: string }> = [];
  override async publish(...args: Parameters<EventBus["publish"]>) {
    this.published.push({ event: args[0], messageId: args[1]?.messageId ?? args[0].id });
    return super.publish(...args);
  }
  of(type: string, runId: string): Array<{ event: AnyEvent; messageId: string }> {
    return this.published.filter((p) => p.event.type === type && "runId" in p.event.data && p.event.data.runId === runId);
  }
}

describe("trainer run control: cancel and re-drive (in-memory bus, filesystem store)", () => {
  const cleanup = new Cleanup();
  let store: FileSystemBlobStore;
  let bus: RecordingBus;
  let trainer: Trainer;

  beforeAll(async () => {
    // The training worker runs built JavaScript.
    execFileSync("npx", ["tsc", "-b", "packages/ml"], { cwd: `${__dirname}/../../..`, stdio: "inherit" });
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path });
    bus = new RecordingBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    trainer = createTrainer({ store, bus, logger: silentLogger(), verifyKey: keyVerifier({ workspaces: [{ id: "ws-test", keys: { primary: KEY } }] }), container: "retrain" });
    const { app } = createHttpApp({ serviceName: "trainer", logger: silentLogger(), routes: (r) => trainer.registerRoutes(r) });
    const server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    await trainer.start();
    cleanup.add(() => trainer.stop(0));
    const put = await fetch(`${server.url}/v1/workspaces/ws-test/training-services/churn-training`, {
      method: "PUT",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ learner: "Two-Class Logistic Regression", label: "label", split: { fraction: 0.25, seed: 7 } }),
    });
    expect(put.status).toBe(201);
  }, 120_000);
  afterAll(() => cleanup.run());

  async function dataArrived(rows: number): Promise<CloudEvent<typeof EventTypes.DataArrived>> {
    const csv = binaryCsv(rows, 3);
    const name = `ingestion/datasets/churn/${ulid()}.csv`;
    const props = await store.put(name, Buffer.from(csv), { contentType: "text/csv" });
    const example = exampleData(EventTypes.DataArrived);
    return createEvent(
      EventTypes.DataArrived,
      {
        ...example,
        runId: ulid(),
        pipeline: "churn",
        runSequence: 1,
        dataset: { container: "retrain", name, etag: props.etag, size: props.size, sha256: createHash("sha256").update(csv).digest("hex") },
        plan: { ...example.plan, pipeline: "churn", runSequence: 1, trainingWebService: { workspace: "ws-test", service: "churn-training" } },
      },
      { source: "/test" },
    );
  }
  const cancelled = (arrived: CloudEvent<typeof EventTypes.DataArrived>) =>
    createEvent(EventTypes.RunCancelled, { runId: arrived.data.runId, pipeline: "churn", runSequence: 1, plan: arrived.data.plan, cancelledBy: "test" }, { source: "/retrain/ingestion" });

  it("cancels a running job: the job ends Cancelled, TrainingFailed says Cancelled, no ModelTrained", async () => {
    const arrived = await dataArrived(400_000);
    const jobId = jobIdForRun(arrived.data.runId);
    await bus.publish(arrived);
    await waitFor(async () => (await trainer.jobs.jobs.get("ws-test", "churn-training", jobId))?.status === "Running", { timeoutMs: 30_000, intervalMs: 20 });
    await bus.publish(cancelled(arrived));
    const failed = await waitFor(() => bus.of(EventTypes.TrainingFailed, arrived.data.runId)[0], { timeoutMs: 30_000 });
    expect(failed.event.data).toMatchObject({ code: "Cancelled" });
    expect((await trainer.jobs.jobs.get("ws-test", "churn-training", jobId))?.status).toBe("Cancelled");
    expect(bus.of(EventTypes.ModelTrained, arrived.data.runId)).toEqual([]);
  }, 60_000);

  it("a run cancelled before its data arrived trains nothing", async () => {
    const arrived = await dataArrived(50);
    await bus.publish(cancelled(arrived));
    await waitFor(async () => (await trainerRun(store, arrived.data.runId))?.cancelledAt !== undefined);
    await bus.publish(arrived);
    await waitFor(async () => (await trainerRun(store, arrived.data.runId))?.dataIgnoredAt !== undefined);
    expect(await trainer.jobs.jobs.get("ws-test", "churn-training", jobIdForRun(arrived.data.runId))).toBeUndefined();
    expect(bus.of(EventTypes.ModelTrained, arrived.data.runId)).toEqual([]);
  });

  it("re-publishes the run's ModelTrained (same id and time, fresh transport id) when asked to re-drive its evaluation", async () => {
    const arrived = await dataArrived(500);
    await bus.publish(arrived);
    const first = await waitFor(() => bus.of(EventTypes.ModelTrained, arrived.data.runId)[0], { timeoutMs: 30_000 });
    const runId = arrived.data.runId;
    await bus.publish(createEvent(EventTypes.RunRedriveRequested, { runId, pipeline: "churn", stage: "evaluation", attempt: 1 }, { source: "/retrain/registry", id: deterministicEventId(runId, "redrive", "1") }));
    const again = await waitFor(() => bus.of(EventTypes.ModelTrained, runId)[1], { timeoutMs: 10_000 });
    expect(again.event).toEqual(first.event);
    expect(again.messageId).not.toBe(first.messageId);
  }, 60_000);
});
