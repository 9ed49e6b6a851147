// The fault-injection runner: a distributed Retrain (nats-server with a file store, Azurite, every
// service as its own process), N pipeline runs over several pipelines and endpoints, and faults while
// they run — kill -9 of a service that has work in progress (then a restart), nats-server restarts on
// the same store, every event delivered twice, an older ModelApproved after a newer one, malformed
// events and an always-failing consumer group. The checker then judges every run.
import { randomUUID } from "node:crypto";
import { connectNatsBus, type DeadLetter, type NatsBus } from "@retrain/bus";
import { createEvent, EventTypes, runEventTypes, targetKey, ulid, type AnyEvent, type EndpointTarget } from "@retrain/contracts";
import { SeededRandom } from "@retrain/ml";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "../e2e/deployment.js";
import type { RestartableService } from "../e2e/processes.js";
import { check, type AuditRecord, type CheckReport, type ServedRecord } from "./checker.js";
import { churnCsv } from "../e2e/churn.js";
import { Ledger, type FaultRecord } from "./ledger.js";

/** Options for {@link runChaos}. */
export interface ChaosOptions {
  /** Pipeline runs to drive. */
  readonly runs: number;
  /** kill -9 of a random service with work in progress, each followed by a restart. */
  readonly kills: number;
  /** nats-server kill -9 and restart on the same store. */
  readonly brokerRestarts: number;
  /** Pipelines (endpoints: classic, new or both per pipeline). Default 4. */
  readonly pipelines?: number;
  /** Runs in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Rows per dataset. Default 1000. */
  readonly rows?: number;
  /** Each run must be terminal this long after ingestion accepted it. Default 150 000 ms. */
  readonly runDeadlineMs?: number;
  /** Seed of every random choice (datasets, fault order, services, moments). Default 1. */
  readonly seed?: number;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

/** What a chaos run found. */
export interface ChaosResult {
  readonly report: CheckReport;
  readonly ledger: Ledger;
  readonly durationMs: number;
  /** The summary table, one line per element. */
  readonly summary: readonly string[];
}

const FAILING_GROUP = "chaos-failing";
const FAILING_ATTEMPTS = 3;
const WORKSPACE = "e2e";

/** A pipeline of the chaos deployment and its targets. */
interface ChaosPipeline {
  readonly name: string;
  readonly targets: readonly EndpointTarget[];
}

function pipelinesFor(count: number): ChaosPipeline[] {
  return Array.from({ length: count }, (_, i) => {
    const targets: EndpointTarget[] = [];
    // i % 3: 0 → both kinds (both promoters per run), 1 → classic only, 2 → new only.
    if (i % 3 !== 2) targets.push({ kind: "classic", workspace: WORKSPACE, webService: "chaos", endpoint: `chaos-${i}`, resourceName: "Churn [trained model]", createIfMissing: true });
    if (i % 3 !== 1) targets.push({ kind: "new", subscription: "sub-chaos", resourceGroup: "rg-chaos", webService: `chaos-arm-${i}`, resourceName: "Churn [trained model]" });
    return { name: `chaos-${i}`, targets };
  });
}

function yamlOf(pipelines: readonly ChaosPipeline[]): string[] {
  const lines = [
    "trainingServices:",
    `  - { workspace: ${WORKSPACE}, name: chaos-training, learner: Two-Class Logistic Regression, label: label, parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1 } }`,
    "pipelines:",
  ];
  for (const [i, p] of pipelines.entries()) {
    lines.push(
      `  - name: ${p.name}`,
      `    trainingWebService: { workspace: ${WORKSPACE}, service: chaos-training }`,
      "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.5 }",
      `    targets: ${JSON.stringify(p.targets)}`,
      `    split: { fraction: 0.25, seed: ${100 + i} }`,
    );
  }
  return lines;
}

/** Fisher–Yates in place, from the runner's seeded random. */
function shuffle<T>(random: SeededRandom, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const kept = items[i] as T;
    items[i] = items[j] as T;
    items[j] = kept;
  }
  return items;
}

/** A time-based wait, only where the runner means time itself (a random moment, a down time). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function api(deployment: Deployment, base: string, method: string, path: string, body?: unknown, key = deployment.adminKey): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: response.status, body: parsed };
}

/** The scoring host's paths of a target (its audit log is `<path>/history`, its model `<path>/model`). */
function targetPath(target: EndpointTarget): string {
  return target.kind === "classic"
    ? `/v1/workspaces/${target.workspace}/webservices/${target.webService}/endpoints/${target.endpoint}`
    : `/v1/subscriptions/${target.subscription}/resourceGroups/${target.resourceGroup}/webServices/${target.webService}`;
}

/** Runs the chaos scenario (services must be built: `npx tsc -b`) and checks it. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const random = new SeededRandom(options.seed ?? 1);
  const runDeadlineMs = options.runDeadlineMs ?? 150_000;
  const pipelines = pipelinesFor(options.pipelines ?? 4);
  const cleanup = new Cleanup();
  const ledger = new Ledger();
  try {
    log("starting nats-server, Azurite and every service as processes…");
    const deployment = await startDeployment({ config: yamlOf(pipelines) });
    cleanup.add(() => deployment.stop());
    const scoringUrl = deployment.scoring.url;

    // The seed's starting point: a first model from BES, served by a classic web service (whose
    // endpoints the pipelines create) and by each new (ARM) web service a pipeline targets.
    const model0 = await trainThroughBes(deployment, "chaos-training", churnCsv(1000, 999_999));
    const classic = await api(deployment, scoringUrl, "POST", `/v1/workspaces/${WORKSPACE}/webservices`, { name: "chaos", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" });
    if (classic.status !== 201) throw new Error(`creating the classic web service: ${classic.status} ${JSON.stringify(classic.body)}`);
    for (const target of pipelines.flatMap((p) => p.targets)) {
      if (target.kind !== "new") continue;
      const arm = await api(deployment, scoringUrl, "POST", `/v1/workspaces/${WORKSPACE}/webservices`, {
        name: target.webService,
        kind: "new",
        subscription: target.subscription,
        resourceGroup: target.resourceGroup,
        resourceName: target.resourceName,
        model: { location: model0 },
        modelId: "initial",
      });
      if (arm.status !== 201) throw new Error(`creating ${target.webService}: ${arm.status} ${JSON.stringify(arm.body)}`);
    }

    // The runner's own consumers: the ledger (every delivery, no inbox), the duplicator and the
    // always-failing group. They live in this process, which is never killed.
    const bus: NatsBus = await connectNatsBus({ servers: deployment.nats.url, prefix: deployment.env["NATS_PREFIX"] ?? "retrain", logger: silentLogger(), name: "chaos-runner" });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await bus.subscribe({ group: "chaos-ledger", types: runEventTypes, concurrency: 16, inbox: { seen: async () => false }, handler: async (event) => ledger.observe(event as AnyEvent) });
    await bus.subscribe({
      group: "chaos-duplicator",
      types: runEventTypes,
      concurrency: 8,
      maxAttempts: 50,
      backoffMs: [250, 1000],
      inbox: { seen: async () => false },
      // Every event delivered twice: the same CloudEvent again under a fresh transport id, so the
      // broker's duplicate window does not swallow the copy and every consumer group receives it.
      handler: async (event) => {
        if (ledger.duplicated.has(event.id)) return; // the copy itself (or a redelivery): once is enough
        ledger.duplicated.add(event.id);
        try {
          // A producer's retry (same id): the broker must drop it within its duplicate window.
          const retry = await bus.publish(event as AnyEvent);
          ledger.retries.push({ eventId: event.id, duplicate: retry.duplicate, ageMs: Date.now() - Date.parse(event.time) });
          await bus.publish(event as AnyEvent, { messageId: `${event.id}:dup:${randomUUID()}` });
        } catch (error) {
          ledger.duplicated.delete(event.id);
          throw error;
        }
      },
    });
    await bus.subscribe({
      group: FAILING_GROUP,
      types: [EventTypes.DataArrived],
      concurrency: 4,
      maxAttempts: FAILING_ATTEMPTS,
      backoffMs: [50],
      handler: async (event) => {
        throw new Error(`chaos: this consumer group always fails (event ${event.id})`);
      },
    });

    // --- drive the runs
    let next = 0;
    let accepted = 0;
    let driving = true;
    const upload = async (index: number): Promise<void> => {
      const pipeline = pipelines[index % pipelines.length] as ChaosPipeline;
      const round = Math.floor(index / pipelines.length);
      // Alternate the signal per round: each run's model beats the champion trained on the other.
      const csv = churnCsv(options.rows ?? 1000, 1_000 + index, { drift: round % 2 === 0 });
      const run: Ledger["runs"][number] = { index, pipeline: pipeline.name, targets: pipeline.targets.map((t) => targetKey(t)), sentAt: Date.now(), attempts: 0 };
      ledger.runs.push(run);
      const giveUp = Date.now() + runDeadlineMs;
      ledger.uploadsInFlight++;
      try {
        while (run.runId === undefined && Date.now() < giveUp) {
          run.attempts++;
          let answer: { status: number; body: { runId?: string; runSequence?: number } | undefined } | undefined;
          try {
            const response = await fetch(`${deployment.ingestion.url}/v1/pipelines/${pipeline.name}/datasets`, {
              method: "PUT",
              headers: { authorization: `Bearer ${deployment.key}`, "content-type": "text/csv" },
              body: csv,
            });
            answer = { status: response.status, body: (await response.json().catch(() => undefined)) as { runId?: string; runSequence?: number } | undefined };
          } catch {
            // ingestion is down (killed): a client retries the same bytes, which dedupe to one run
          }
          if (answer !== undefined && answer.status < 300 && answer.body?.runId !== undefined) {
            run.runId = answer.body.runId;
            if (answer.body.runSequence !== undefined) run.runSequence = answer.body.runSequence;
            run.acceptedAt = Date.now();
            accepted++;
            break;
          }
          if (answer !== undefined && answer.status < 500) throw new Error(`upload ${index} to ${pipeline.name} refused: ${answer.status} ${JSON.stringify(answer.body)}`);
          // time-based by design: a client's retry interval while ingestion restarts
          await pause(250);
        }
      } finally {
        ledger.uploadsInFlight--;
      }
      if (run.runId === undefined) return;
      const runId = run.runId;
      await waitFor(() => ledger.isTerminal(runId), { timeoutMs: runDeadlineMs, intervalMs: 100 }).catch(() => undefined);
    };
    // --- faults, each at a point of progress (k of n+1 of the runs accepted) and a random moment after it
    const plan: Array<"kill" | "broker-restart"> = [...Array<"kill">(options.kills).fill("kill"), ...Array<"broker-restart">(options.brokerRestarts).fill("broker-restart")];
    shuffle(random, plan);
    const thresholds = plan.map((_, i) => Math.floor(((i + 1) * options.runs) / (plan.length + 1)));
    let faultsDone = 0;
    // Runs after a fault's point wait for that fault: fast runs must not all end before the faults land.
    const gateOpen = (index: number): boolean => thresholds.every((threshold, i) => index <= threshold || faultsDone > i);
    const worker = async (): Promise<void> => {
      while (next < options.runs) {
        const index = next++;
        if (!gateOpen(index)) await waitFor(() => gateOpen(index), { timeoutMs: runDeadlineMs * Math.max(1, options.runs), intervalMs: 20 });
        await upload(index);
      }
    };
    const faultLoop = async (): Promise<void> => {
      for (const [i, kind] of plan.entries()) {
        const threshold = thresholds[i] as number;
        await waitFor(() => accepted >= threshold || !driving, { timeoutMs: runDeadlineMs * Math.max(1, options.runs), intervalMs: 50 });
        if (!driving) break;
        // time-based by design: the fault lands at a random moment of the run, not at a handler boundary
        await pause(random.nextInt(600));
        if (kind === "broker-restart") await restartBroker(deployment, ledger, random, log);
        else await killOne(deployment.services, ledger, random, log);
        faultsDone = i + 1;
      }
      faultsDone = plan.length;
    };
    const poisonPayloads = ["{not json", JSON.stringify({ hello: "world" }), JSON.stringify({ specversion: "1.0", id: "chaos-poison", source: "/chaos", type: EventTypes.ModelTrained, time: new Date().toISOString(), data: { runId: 42 } })];
    const poisonLoop = async (): Promise<void> => {
      await waitFor(() => accepted >= Math.floor(options.runs / 2) || !driving, { timeoutMs: runDeadlineMs * Math.max(1, options.runs), intervalMs: 50 });
      for (const payload of poisonPayloads) await bus.publishRaw(EventTypes.ModelTrained, Buffer.from(payload));
      log(`published ${poisonPayloads.length} malformed events on the ModelTrained subject`);
    };

    log(`driving ${options.runs} runs over ${pipelines.length} pipelines (${options.concurrency ?? 4} at once) with ${options.kills} kills and ${options.brokerRestarts} broker restarts…`);
    const faults = faultLoop();
    const poison = poisonLoop();
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, () => worker()));
    driving = false;
    await Promise.all([faults, poison]);
    log(`all runs sent; ${ledger.inFlight().length} still in flight`);

    // --- reordering: for each target that moved past an older approved run, an approval of that
    // older sequence arrives late — once as a straggler copy of the original, once as a new message.
    const probes: { runId: string; targets: string[] }[] = [];
    for (const p of pipelines) {
      const approved = ledger.runs
        .filter((r) => r.pipeline === p.name && r.runId !== undefined && ledger.progress(r.runId).verdict === "approved")
        .sort((a, b) => (a.runSequence ?? 0) - (b.runSequence ?? 0));
      const older = approved[0];
      if (older?.runId === undefined || approved.length < 2) continue;
      const original = ledger.eventsOf(older.runId, EventTypes.ModelApproved)[0];
      if (original === undefined) continue;
      await bus.publish(original, { messageId: `${original.id}:straggler:${randomUUID()}` });
      const runId = `probe-${ulid()}`;
      const probe = createEvent(EventTypes.ModelApproved, { ...original.data, runId, reason: "chaos: an older approval arriving after a newer one" }, { source: "/retrain/chaos" });
      await bus.publish(probe);
      probes.push({ runId, targets: p.targets.map((t) => targetKey(t)) });
    }
    await waitFor(() => probes.every((probe) => probe.targets.every((t) => ledger.progress(probe.runId).outcomes.has(t))), { timeoutMs: 60_000, intervalMs: 100 }).catch(() => undefined);
    log(`reordering: ${probes.length} older approvals published after newer ones`);

    // --- what the system says, read last: every target's audit log and served model, the dead letters
    const dataArrivedIds = (): string[] => ledger.runs.flatMap((r) => (r.runId !== undefined ? ledger.eventsOf(r.runId, EventTypes.DataArrived).map((e) => e.id) : []));
    let deadLetters: DeadLetter[] = [];
    await waitFor(
      async () => {
        deadLetters = await bus.listDeadLetters({ limit: 100_000 });
        const failing = new Set(deadLetters.filter((d) => d.group === FAILING_GROUP).map((d) => d.eventId));
        const poisoned = deadLetters.filter((d) => d.group === "evaluator" && d.reason === "SchemaInvalid");
        return dataArrivedIds().every((id) => failing.has(id)) && poisonPayloads.every((p) => poisoned.some((d) => d.payload === p));
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch(() => undefined);
    const audit = new Map<string, AuditRecord[]>();
    const served = new Map<string, ServedRecord | undefined>();
    for (const target of pipelines.flatMap((p) => p.targets)) {
      const key = targetKey(target);
      const history = await api(deployment, scoringUrl, "GET", `${targetPath(target)}/history`);
      audit.set(key, history.status === 200 ? (history.body as { value: AuditRecord[] }).value : []);
      const model = await api(deployment, scoringUrl, "GET", `${targetPath(target)}/model`);
      served.set(key, model.status === 200 ? (model.body as ServedRecord) : undefined);
    }
    const report = check({
      ledger,
      audit,
      served,
      deadLetters,
      runDeadlineMs,
      failing: { group: FAILING_GROUP, maxAttempts: FAILING_ATTEMPTS },
      poison: { payloads: poisonPayloads, group: "evaluator" },
      reorderProbes: probes,
    });
    const durationMs = Date.now() - started;
    return { report, ledger, durationMs, summary: summarize(report, ledger, options, durationMs) };
  } finally {
    await cleanup.run();
  }
}

async function killOne(services: readonly RestartableService[], ledger: Ledger, random: SeededRandom, log: (line: string) => void): Promise<void> {
  // A random service, the least-killed first so every service gets its turn: wait a little for it
  // to have work in progress, else take any service that has some now.
  const kills = (name: string) => ledger.faults.filter((f) => f.kind === "kill" && f.service === name).length;
  const order = shuffle(random, services.filter((s) => ledger.tracks(s.name))).sort((a, b) => kills(a.name) - kills(b.name));
  const first = order[0] as RestartableService;
  const preferred = await waitFor(() => ledger.workInProgress(first.name), { timeoutMs: 5_000, intervalMs: 10 }).catch(() => undefined);
  const chosen = preferred !== undefined ? { service: first, work: preferred } : await waitFor(
    () => {
      for (const service of order) {
        const work = ledger.workInProgress(service.name);
        if (work !== undefined) return { service, work };
      }
      return undefined;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  ).catch(() => undefined);
  if (chosen === undefined) {
    log("kill skipped: no service had work in progress for 30 s");
    return;
  }
  const { service, work } = chosen;
  const fault: FaultRecord = { kind: "kill", service: service.name, at: Date.now(), handler: work.handler, runs: work.runs };
  ledger.faults.push(fault);
  await service.kill("SIGKILL");
  // time-based by design: the service stays down for a random while, as after a crash
  await pause(random.nextInt(2000));
  await service.restart();
  fault.backAt = Date.now();
  log(`kill -9 ${service.name} during "${work.handler}" (${work.runs.length} runs in that stage); back after ${fault.backAt - fault.at} ms`);
}

async function restartBroker(deployment: Deployment, ledger: Ledger, random: SeededRandom, log: (line: string) => void): Promise<void> {
  const runs = ledger.inFlight().flatMap((r) => (r.runId !== undefined ? [r.runId] : []));
  const fault: FaultRecord = { kind: "broker-restart", service: "nats-server", at: Date.now(), handler: "nats-server: every publish, delivery and ack", runs };
  ledger.faults.push(fault);
  await deployment.nats.kill("SIGKILL");
  // time-based by design: the broker stays down for a random while
  await pause(500 + random.nextInt(2000));
  await deployment.nats.restart();
  fault.backAt = Date.now();
  log(`kill -9 nats-server with ${runs.length} runs in flight; restarted on the same store after ${fault.backAt - fault.at} ms`);
}

function pad(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join("  ").trimEnd();
}

/** The summary table: run classes, faults (what each kill interrupted), and the pass criteria. */
export function summarize(report: CheckReport, ledger: Ledger, options: ChaosOptions, durationMs: number): string[] {
  const lines: string[] = [];
  const c = report.counts;
  const ends = new Map<string, number>();
  for (const v of report.runs) if (v.outcome === "ok") ends.set(v.detail.split(" ")[0] ?? "", (ends.get(v.detail.split(" ")[0] ?? "") ?? 0) + 1);
  lines.push(`chaos: ${options.runs} runs, ${options.kills} kills, ${options.brokerRestarts} broker restarts, every event delivered twice — ${(durationMs / 1000).toFixed(0)} s`);
  lines.push("");
  const w = [6, 4, 5, 11, 6, 8];
  lines.push(pad(["runs", "ok", "lost", "duplicated", "stuck", "unacked"], w));
  lines.push(pad([report.runs.length, c.ok, c.lost, c.duplicated, c.stuck, c.unacked], w));
  lines.push(`ok runs ended as: ${[...ends].map(([k, n]) => `${k} ${n}`).join(", ") || "-"}`);
  const times = report.runs.filter((v) => v.outcome === "ok").map((v) => Number(/in (\d+) ms/.exec(v.detail)?.[1] ?? 0)).sort((a, b) => a - b);
  if (times.length > 0) lines.push(`run duration (accepted → terminal): median ${((times[Math.floor(times.length / 2)] ?? 0) / 1000).toFixed(1)} s, max ${((times[times.length - 1] ?? 0) / 1000).toFixed(1)} s`);
  lines.push(`duplicates injected: ${ledger.duplicated.size} events re-published under a fresh transport id, and each once under its own id (a producer's retry)`);
  lines.push("");
  lines.push("faults:");
  const fw = [3, 16, 7, 60, 6, 6];
  lines.push(pad(["#", "service", "t+s", "interrupted (handler: stage)", "runs", "down"], fw));
  const t0 = ledger.runs[0]?.sentAt ?? 0;
  for (const [i, f] of ledger.faults.entries()) {
    lines.push(pad([i + 1, f.service, ((f.at - t0) / 1000).toFixed(1), f.handler, f.runs.length, f.backAt !== undefined ? `${((f.backAt - f.at) / 1000).toFixed(1)}s` : "-"], fw));
  }
  lines.push("");
  for (const check of report.checks) lines.push(`${check.pass ? "PASS" : "FAIL"}  ${check.name} — ${check.detail}`);
  const bad = report.runs.filter((v) => v.outcome !== "ok");
  if (bad.length > 0) {
    lines.push("");
    lines.push("runs not ok:");
    for (const v of bad.slice(0, 50)) lines.push(`  #${v.index} ${v.pipeline} ${v.runId ?? "-"} seq ${v.runSequence ?? "-"}: ${v.outcome} — ${v.detail}`);
  }
  lines.push("");
  lines.push(report.pass ? "RESULT: PASS" : "RESULT: FAIL");
  return lines;
}
