// The CI short form of `pnpm test:chaos`: 10 runs over 4 pipelines, 3 kill -9s of services with
// work in progress, 1 nats-server kill and restart on the same store, every event delivered twice,
// late older approvals, malformed events and an always-failing consumer group.
import { buildAll } from "../e2e/processes.js";
import { runChaos } from "./runner.js";

describe("chaos, short form (processes over nats-server and Azurite)", () => {
  it("10 runs, 3 kills, 1 broker restart: every run terminal, none lost or doubled, endpoints at the newest approved, poison dead-lettered", async () => {
    buildAll();
    const result = await runChaos({ runs: 10, kills: 3, brokerRestarts: 1, seed: 7, runDeadlineMs: 120_000 });
    process.stdout.write(`${result.summary.join("\n")}\n`);
    expect(result.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(result.report.counts).toEqual({ ok: 10, lost: 0, duplicated: 0, stuck: 0, unacked: 0 });
    const kills = result.ledger.faults.filter((f) => f.kind === "kill");
    expect(kills).toHaveLength(3);
    expect(result.ledger.faults.filter((f) => f.kind === "broker-restart")).toHaveLength(1);
    expect(result.ledger.duplicated.size).toBeGreaterThan(0);
  }, 360_000);
});
