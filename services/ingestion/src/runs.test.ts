// The run ledger's content index stays bounded: identical content among the recent runs is the same
// run, the oldest hashes are forgotten, and the state document does not grow with the pipeline's age.
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { exampleData, EventTypes, ulid } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir } from "@retrain/testing";
import { StoredPipeline } from "./pipelines.js";
import { RunLedger } from "./runs.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe("RunLedger content index", () => {
  it("dedupes identical content among the last runs it keeps, and starts a new run for content it has forgotten", async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const store = new FileSystemBlobStore({ root: dir.path });
    const bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    const ledger = new RunLedger({ store, bus, logger: silentLogger(), source: "/retrain/ingestion", contentIndexSize: 3 });
    const example = exampleData(EventTypes.DataArrived);
    const now = new Date().toISOString();
    const pipeline = StoredPipeline.parse({
      name: "churn",
      trainingWebService: example.plan.trainingWebService,
      evaluation: example.plan.evaluation,
      targets: example.plan.targets,
      createdAt: now,
      updatedAt: now,
    });
    const sha = (n: number): string => n.toString(16).padStart(64, "0");
    const start = (n: number) =>
      ledger.start({ pipeline, runId: ulid(), dataset: { ...example.dataset, sha256: sha(n) }, trigger: { kind: "upload" }, kind: "new-data" });

    for (let n = 1; n <= 5; n++) expect(await start(n)).toMatchObject({ outcome: "started", runSequence: n });
    const state = await ledger.state("churn");
    expect(Object.keys(state?.bySha256 ?? {}).sort()).toEqual([sha(3), sha(4), sha(5)]);

    expect(await start(5)).toMatchObject({ outcome: "deduplicated", runSequence: 5 });
    expect(await start(3)).toMatchObject({ outcome: "deduplicated", runSequence: 3 });
    // Content 1 was forgotten: a new run (6), which now pushes content 3 out.
    expect(await start(1)).toMatchObject({ outcome: "started", runSequence: 6 });
    expect(Object.keys((await ledger.state("churn"))?.bySha256 ?? {}).sort()).toEqual([sha(1), sha(4), sha(5)].sort());
  });
});
