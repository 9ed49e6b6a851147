import { waterfallRows } from "./trace.js";

describe("retrain trace: the waterfall rows", () => {
  it("gives each stage its service, its start from the run's first event, its duration since the stage that began it, and its outcome", () => {
    const at = (s: number) => new Date(Date.parse("2026-12-06T08:00:00Z") + s * 1000).toISOString();
    const stage = (name: string, s: number, target?: string, detail?: string) => ({ stage: name, at: at(s), eventId: name, eventType: name, ...(target ? { target } : {}), ...(detail ? { detail } : {}) });
    const rows = waterfallRows([
      stage("received", 0),
      stage("trained", 8),
      stage("approved", 9),
      stage("updated", 10, "classic:e2e/ws1/ep1"),
      stage("promotion-failed", 12, "new:sub/rg/arm", "Superseded: a newer run is served"),
    ]);
    expect(rows).toEqual([
      { stage: "received", service: "ingestion", startMs: 0, durationMs: 0, outcome: "ok" },
      { stage: "trained", service: "trainer", startMs: 0, durationMs: 8000, outcome: "ok" },
      { stage: "approved", service: "evaluator", startMs: 8000, durationMs: 1000, outcome: "ok" },
      { stage: "updated e2e/ws1/ep1", service: "classic-promoter", startMs: 9000, durationMs: 1000, outcome: "ok" },
      { stage: "promotion-failed sub/rg/arm", service: "new-promoter", startMs: 9000, durationMs: 3000, outcome: "error", detail: "Superseded: a newer run is served" },
    ]);
  });

  it("an approval after a wait is timed from the wait; a rejection is an error", () => {
    const at = (s: number) => new Date(Date.parse("2026-12-06T08:00:00Z") + s * 1000).toISOString();
    const stage = (name: string, s: number) => ({ stage: name, at: at(s), eventId: name, eventType: name });
    const rows = waterfallRows([stage("received", 0), stage("trained", 2), stage("awaiting", 3), stage("rejected", 60)]);
    expect(rows.map((r) => [r.stage, r.startMs, r.durationMs, r.outcome])).toEqual([
      ["received", 0, 0, "ok"],
      ["trained", 0, 2000, "ok"],
      ["awaiting", 2000, 1000, "waiting"],
      ["rejected", 3000, 57000, "error"],
    ]);
  });
});
