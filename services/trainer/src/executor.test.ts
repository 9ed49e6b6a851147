// The training executor and its input stream: a dataset refused part-way is closed, not left to the
// garbage collector (a store blob's stream holds a file handle); a good one trains.
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { JobContext, JobDocument } from "@retrain/bes";
import { FileSystemBlobStore } from "@retrain/blob";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir } from "@retrain/testing";
import { TrainingExecutor } from "./executor.js";
import { TrainingServices } from "./training-services.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

function job(): JobDocument {
  return {
    version: 1,
    id: "0123456789abcdef0123456789abcdef",
    host: "trainer",
    workspace: "ws",
    service: "churn",
    status: "Running",
    createdAt: new Date().toISOString(),
    attempts: 1,
    inputs: {},
    outputs: {},
    globalParameters: {},
    outbox: [],
  };
}

/** A CSV source read in small chunks, as a file stream is: `rows` rows, the `badAt`-th one ragged. */
function csvSource(rows: number, badAt?: number): Readable {
  const lines = ["x1,x2,label", ...Array.from({ length: rows }, (_, i) => (i === badAt ? "1,2,3,4" : `${i % 7},${(i * 3) % 11},${i % 2}`))];
  return Readable.from(lines.map((line) => `${line}\n`));
}

describe("TrainingExecutor input", () => {
  async function executor(): Promise<TrainingExecutor> {
    const dir = await tempDir("retrain-executor-");
    cleanup.add(() => dir.remove());
    const store = new FileSystemBlobStore({ root: dir.path });
    const services = new TrainingServices(store);
    await services.put("ws", "churn", { learner: "Two-Class Logistic Regression", parameters: {}, label: "label", missing: "mean", split: { fraction: 0.2, seed: 1 }, outputs: { model: "output1", evaluation: "output2" } });
    return new TrainingExecutor({ services, container: "retrain", source: "/retrain/trainer", logger: silentLogger() });
  }

  function context(input: Readable): JobContext {
    return {
      signal: new AbortController().signal,
      logger: silentLogger(),
      heartbeat: () => undefined,
      openInput: async () => input,
      writeArtifact: async (file, body) => ({ name: `artifacts/${file}`, etag: '"1"', size: body.byteLength }),
    };
  }

  it("closes an input refused part-way (a ragged row early in a long file), and trains on a good one", async () => {
    const trainer = await executor();
    const bad = csvSource(50_000, 5);
    await expect(trainer.run(job(), context(bad))).rejects.toMatchObject({ code: "CsvRaggedRow" });
    // Destroyed as the pipeline unwinds (a tick after the reader stopped); without it this never settles.
    await finished(bad).catch(() => undefined);
    expect(bad.destroyed).toBe(true);
    expect(bad.readableEnded).toBe(false);

    const good = csvSource(500);
    const outcome = await trainer.run(job(), context(good));
    expect(Object.keys(outcome.outputs).sort()).toEqual(["output1", "output2"]);
    expect(good.readableEnded).toBe(true);
  });
});
