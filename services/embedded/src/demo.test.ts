// The README's first command: the demo on the embedded default, checked field by field from --json.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const root = join(__dirname, "..", "..", "..");

type Summary = {
  besJob: { id: string; model: string };
  runs: Array<{
    dataset: string;
    runSequence: number;
    outcome: string;
    reason: string;
    revision?: number;
    metrics?: Record<string, number>;
    timeline: Array<{ stage: string; durationMs: number | null }>;
  }>;
  endpoint: { servedBefore: string; servedAfter: string; servedAtEnd: string; history: unknown };
  predictions: { before: string[][]; after: string[][] };
  durationMs: number;
};

describe("pnpm demo", () => {
  it("runs the loop: v1 promoted, drifted v2 beats the champion and is promoted, noise rejected, predictions change", () => {
    execFileSync("npx", ["tsc", "-b", "services/embedded"], { cwd: root, stdio: "inherit" });
    const out = execFileSync(process.execPath, [join(root, "services/embedded/dist/demo.js"), "--json"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    const summary = JSON.parse(out) as Summary;
    expect(summary.besJob.model).toMatch(/output1\.ilearner$/);
    expect(summary.runs.map((r) => [r.runSequence, r.outcome])).toEqual([
      [1, "promoted"],
      [2, "promoted"],
      [3, "rejected"],
    ]);
    expect(summary.runs[0]?.revision).toBe(2);
    expect(summary.runs[1]?.revision).toBe(3);
    expect(summary.runs[1]?.reason).toMatch(/beats the champion/);
    expect(summary.runs[2]?.reason).toMatch(/below|< threshold/);
    expect(summary.runs[1]?.timeline.map((t) => t.stage)).toEqual(["received", "trained", "approved", "updated"]);
    expect(summary.runs[2]?.timeline.map((t) => t.stage)).toEqual(["received", "trained", "rejected"]);
    expect(summary.endpoint.servedBefore).not.toBe(summary.endpoint.servedAfter);
    expect(summary.endpoint.servedAtEnd).toBe(summary.endpoint.servedAfter);
    expect(summary.predictions.after).not.toEqual(summary.predictions.before);
    expect(summary.durationMs).toBeLessThan(60_000);
  }, 120_000);
});
