// The checker itself: each class of run (ok, lost, duplicated, stuck, unacked) and each global
// criterion, from ledgers built of real catalog events (no processes).
import { createEvent, EventTypes, exampleData, targetKey, type AnyEvent, type EndpointTarget } from "@retrain/contracts";
import { check, type AuditRecord, type CheckInput } from "./checker.js";
import { Ledger } from "./ledger.js";

const target: EndpointTarget = { kind: "classic", workspace: "e2e", webService: "chaos", endpoint: "ep", resourceName: "m", createIfMissing: true };
const key = targetKey(target);
const SOURCE = { source: "/test" };

function runEvents(runId: string, runSequence: number, end: "promoted" | "rejected" | "trained" | "arrived"): AnyEvent[] {
  const arrived = exampleData(EventTypes.DataArrived);
  const plan = { ...arrived.plan, pipeline: "p", runSequence, targets: [target] };
  const run = { runId, pipeline: "p", runSequence };
  const events: AnyEvent[] = [createEvent(EventTypes.DataArrived, { ...arrived, ...run, plan }, SOURCE)];
  if (end === "arrived") return events;
  events.push(createEvent(EventTypes.ModelTrained, { ...exampleData(EventTypes.ModelTrained), ...run, plan, jobId: `job-${runId}` }, SOURCE));
  if (end === "trained") return events;
  if (end === "rejected") {
    events.push(createEvent(EventTypes.ModelRejected, { ...exampleData(EventTypes.ModelRejected), ...run, plan }, SOURCE));
    return events;
  }
  events.push(createEvent(EventTypes.ModelApproved, { ...exampleData(EventTypes.ModelApproved), ...run, plan }, SOURCE));
  events.push(createEvent(EventTypes.EndpointUpdated, { ...exampleData(EventTypes.EndpointUpdated), ...run, target, revision: runSequence + 1 }, SOURCE));
  return events;
}

function ledgerOf(runs: { runId?: string; runSequence: number; events: AnyEvent[] }[]): Ledger {
  const ledger = new Ledger();
  for (const [index, r] of runs.entries()) {
    const sent: Ledger["runs"][number] = { index, pipeline: "p", targets: [key], sentAt: 0, attempts: 1 };
    if (r.runId !== undefined) Object.assign(sent, { runId: r.runId, runSequence: r.runSequence, acceptedAt: 0 });
    ledger.runs.push(sent);
    for (const e of r.events) ledger.observe(e);
  }
  // A fixed clock: every terminal run ended 1 s after it was accepted.
  for (const r of ledger.runs) if (r.terminalAt !== undefined) r.terminalAt = 1_000;
  return ledger;
}

function audit(...runIds: string[]): Map<string, AuditRecord[]> {
  return new Map([[key, runIds.map((runId, i) => ({ revision: i + 1, run: { runId }, to: { modelId: `m-${runId}`, runId } }))]]);
}

function input(ledger: Ledger, overrides: Partial<CheckInput> = {}): CheckInput {
  return { ledger, audit: audit(), served: new Map(), deadLetters: [], runDeadlineMs: 60_000, ...overrides };
}

describe("the chaos checker", () => {
  it("a promoted and a rejected run are ok; the endpoint serving the newest approved passes", () => {
    const ledger = ledgerOf([
      { runId: "r1", runSequence: 1, events: runEvents("r1", 1, "promoted") },
      { runId: "r2", runSequence: 2, events: runEvents("r2", 2, "rejected") },
    ]);
    const report = check(input(ledger, { audit: audit("r1"), served: new Map([[key, { modelId: "m-r1", runId: "r1" }]]) }));
    expect(report.counts).toEqual({ ok: 2, lost: 0, duplicated: 0, stuck: 0, unacked: 0 });
    expect(report.runs.map((r) => r.detail.split(" ")[0])).toEqual(["promoted", "rejected"]);
    expect(report.pass).toBe(true);
  });

  it("accepted without DataArrived is lost; DataArrived without an end is stuck; never accepted is unacked", () => {
    const ledger = ledgerOf([
      { runId: "lost", runSequence: 1, events: [] },
      { runId: "stuck", runSequence: 2, events: runEvents("stuck", 2, "trained") },
      { runSequence: 3, events: [] },
    ]);
    const report = check(input(ledger));
    expect(report.runs.map((r) => r.outcome)).toEqual(["lost", "stuck", "unacked"]);
    expect(report.runs[1]?.detail).toBe("not terminal: trained, no verdict");
    expect(report.pass).toBe(false);
  });

  it("two model changes of one run in the audit log, or two different EndpointUpdated, are duplicated", () => {
    const events = runEvents("r1", 1, "promoted");
    const second = createEvent(EventTypes.EndpointUpdated, { ...exampleData(EventTypes.EndpointUpdated), runId: "r1", pipeline: "p", runSequence: 1, target, revision: 9 }, { ...SOURCE, id: "another-id" });
    const twice = ledgerOf([{ runId: "r1", runSequence: 1, events: [...events, second] }]);
    expect(check(input(twice)).runs[0]).toMatchObject({ outcome: "duplicated", detail: `2 EndpointUpdated for ${key}` });
    const audited = ledgerOf([{ runId: "r1", runSequence: 1, events }]);
    const report = check(input(audited, { audit: audit("r1", "r1"), served: new Map([[key, { modelId: "m", runId: "r1" }]]) }));
    expect(report.runs[0]?.outcome).toBe("duplicated");
    expect(report.checks.find((c) => c.name.startsWith("0 duplicate PATCH"))?.pass).toBe(false);
  });

  it("a run whose events arrive out of order (its DataArrived last) is terminal once the last one arrives", () => {
    const [arrived, ...rest] = runEvents("r1", 1, "promoted");
    const ledger = ledgerOf([{ runId: "r1", runSequence: 1, events: [...rest, arrived as AnyEvent] }]);
    expect(ledger.runs[0]?.terminalAt).toBeDefined();
    expect(check(input(ledger, { audit: audit("r1"), served: new Map([[key, { modelId: "m", runId: "r1" }]]) })).counts.ok).toBe(1);
  });

  it("the same event delivered twice (one id) is not a duplicate", () => {
    const events = runEvents("r1", 1, "promoted");
    const ledger = ledgerOf([{ runId: "r1", runSequence: 1, events: [...events, ...events] }]);
    expect(check(input(ledger, { audit: audit("r1"), served: new Map([[key, { modelId: "m", runId: "r1" }]]) })).counts.ok).toBe(1);
  });

  it("an endpoint left on an older approved run fails the final-model check", () => {
    const ledger = ledgerOf([
      { runId: "r1", runSequence: 1, events: runEvents("r1", 1, "promoted") },
      { runId: "r2", runSequence: 2, events: runEvents("r2", 2, "promoted") },
    ]);
    const report = check(input(ledger, { audit: audit("r1", "r2"), served: new Map([[key, { modelId: "m", runId: "r1" }]]) }));
    const final = report.checks.find((c) => c.name.startsWith("each endpoint"));
    expect(final).toMatchObject({ pass: false, detail: `${key}: serves r1, newest approved is r2` });
  });

  it("a same-id re-publish inside the window must come back duplicate=true; later ones are not judged", () => {
    const ledger = ledgerOf([{ runId: "r1", runSequence: 1, events: runEvents("r1", 1, "rejected") }]);
    ledger.retries.push({ eventId: "a", duplicate: true, ageMs: 1_000 }, { eventId: "late", duplicate: false, ageMs: 200_000 });
    const name = (c: { name: string }) => c.name.startsWith("a same-id re-publish");
    expect(check(input(ledger)).checks.find(name)).toMatchObject({ pass: true, detail: "1/1 dropped (1 later ones not judged)" });
    ledger.retries.push({ eventId: "b", duplicate: false, ageMs: 5_000 });
    expect(check(input(ledger)).checks.find(name)).toMatchObject({ pass: false, detail: "1/2 dropped; passed: b (1 later ones not judged)" });
  });

  it("dead letters of the failing group must show exactly maxAttempts with a reason for every event", () => {
    const events = runEvents("r1", 1, "rejected");
    const ledger = ledgerOf([{ runId: "r1", runSequence: 1, events }]);
    const arrivedId = events[0]?.id ?? "";
    const letter = { id: "1", group: "g", reason: "MaxAttemptsExceeded" as const, description: "after 3 attempts: boom", attempts: 3, eventId: arrivedId, payload: "{}", payloadEncoding: "utf8" as const, deadLetteredAt: "" };
    const pass = check(input(ledger, { deadLetters: [letter], failing: { group: "g", maxAttempts: 3 } }));
    expect(pass.checks.find((c) => c.name.startsWith("always-failing"))?.pass).toBe(true);
    const early = check(input(ledger, { deadLetters: [{ ...letter, attempts: 2 }], failing: { group: "g", maxAttempts: 3 } }));
    expect(early.checks.find((c) => c.name.startsWith("always-failing"))?.pass).toBe(false);
  });
});
