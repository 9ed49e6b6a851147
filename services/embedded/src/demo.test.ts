// The README's first command: the demo on the embedded default, checked field by field from --json.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const root = join(__dirname, "..", "..", "..");

type Entry = { revision: number; modelId: string; runId: string; runSequence: number; kind: string; at: string };
type Summary = {
  besJob: { id: string; model: string };
  runs: Array<{
    dataset: string;
    runId: string;
    runSequence: number;
    outcome: string;
    reason: string;
    revision?: number;
    metrics?: Record<string, number>;
    timeline: Array<{ stage: string; durationMs: number | null }>;
  }>;
  endpoint: { target: string; servedBefore: string; servedAfter: string; servedAtEnd: string; history: Entry[] };
  predictions: { before: string[][]; after: string[][] };
  rollbacks: Array<{ to: string; toRunSequence: number; rollbackRunId: string; revision: number; modelId: string; servedModel: string; predictions: string[][] }>;
  durationMs: number;
};

describe("pnpm demo", () => {
  it("runs the loop: v1 promoted, drifted v2 beats the champion and is promoted, noise rejected, predictions change; rollback to v1's model and back", () => {
    execFileSync("npx", ["tsc", "-b", "services/embedded"], { cwd: root, stdio: "inherit" });
    const out = execFileSync(process.execPath, [join(root, "services/embedded/dist/demo.js"), "--json"], { cwd: root, encoding: "utf8", timeout: 90_000 });
    const summary = JSON.parse(out) as Summary;
    expect(summary.besJob.model).toMatch(/output1\.ilearner$/);

    // A promotion, a promotion over the champion, a rejection.
    const [v1, v2, noise] = summary.runs;
    expect(summary.runs.map((r) => [r.runSequence, r.outcome])).toEqual([
      [1, "promoted"],
      [2, "promoted"],
      [3, "rejected"],
    ]);
    expect(v1?.revision).toBe(2);
    expect(v2?.revision).toBe(3);
    expect(v2?.reason).toMatch(/beats the champion/);
    expect(noise?.reason).toMatch(/below|< threshold/);
    expect(noise?.revision).toBeUndefined();
    expect(v2?.timeline.map((t) => t.stage)).toEqual(["received", "trained", "approved", "updated"]);
    expect(noise?.timeline.map((t) => t.stage)).toEqual(["received", "trained", "rejected"]);
    expect(v2?.timeline.map((t) => typeof t.durationMs)).toEqual(["object", "number", "number", "number"]);

    // Predictions that changed with the promotion, and did not with the rejection.
    expect(summary.endpoint.servedBefore).not.toBe(summary.endpoint.servedAfter);
    expect(summary.endpoint.servedAtEnd).toBe(summary.endpoint.servedAfter);
    expect(summary.predictions.after).not.toEqual(summary.predictions.before);

    // The rollback to the first model and back: each a new revision serving the older model again.
    const modelOf = (runId: string | undefined) => summary.endpoint.history.find((e) => e.runId === runId && e.kind === "promotion")?.modelId;
    expect(summary.rollbacks.map((r) => [r.to, r.toRunSequence, r.revision])).toEqual([
      [v1?.runId, 1, 4],
      [v2?.runId, 2, 5],
    ]);
    expect(summary.rollbacks[0]?.modelId).toBe(modelOf(v1?.runId));
    expect(summary.rollbacks[0]?.servedModel).toBe(`${modelOf(v1?.runId)}@r4`);
    expect(summary.rollbacks[0]?.predictions).toEqual(summary.predictions.before);
    expect(summary.rollbacks[1]?.modelId).toBe(modelOf(v2?.runId));
    expect(summary.rollbacks[1]?.servedModel).toBe(`${modelOf(v2?.runId)}@r5`);
    expect(summary.rollbacks[1]?.predictions).toEqual(summary.predictions.after);

    // The registry's promotion history of the endpoint: two promotions, then the two rollbacks.
    expect(summary.endpoint.target).toBe("classic:demo/bike-demand/store-042");
    expect(summary.endpoint.history.map((e) => [e.revision, e.kind, e.runId])).toEqual([
      [2, "promotion", v1?.runId],
      [3, "promotion", v2?.runId],
      [4, "rollback", summary.rollbacks[0]?.rollbackRunId],
      [5, "rollback", summary.rollbacks[1]?.rollbackRunId],
    ]);
    expect(summary.endpoint.history.map((e) => e.at)).toEqual([...summary.endpoint.history.map((e) => e.at)].sort());
    expect(summary.durationMs).toBeGreaterThan(0);
  }, 150_000);
});
