import { CachedListing, type BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes, runEventTypes, type AnyEvent } from "@retrain/contracts";
import { assertAdmin, HttpError, principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type MetricsRegistry, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Router } from "express";
import { z } from "zod";
import { appendToLog, readLog } from "./log.js";
import { Projections, RunDocument, RunOutcome, runOutcome, RUNS_PREFIX, type PromotionEntry, type TargetDocument } from "./projections.js";
import { Reconciler, type ReconcileAction, type ReconcilerDocument, type ReconcilerOptions } from "./reconciler.js";
import { publishRollback, requestRollback, RollbackRequest, unseenRollbacks } from "./rollback.js";
import { registerOtlpRoutes, SpanStore, type SpanStoreOptions } from "./otlp.js";
import { RunMetrics } from "./run-metrics.js";
import { registerUiRoutes } from "./ui/routes.js";
import { registerDeadLetterRoutes } from "./dead-letters.js";

/** What the registry is built from. */
export interface RegistryDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Events handled at once. Default 4. */
  readonly concurrency?: number;
  /** The reconciler's deadlines, attempts and interval (see {@link ReconcilerOptions}). */
  readonly reconciler?: ReconcilerOptions;
  /** Where run metrics (retrain_runs_total, stage durations) are recorded. Default: not recorded. */
  readonly metrics?: MetricsRegistry;
  /** Bounds of the spans received on POST /v1/traces. Default {@link SpanStore}'s. */
  readonly spans?: SpanStoreOptions;
}

/** The registry: its all-run-events consumer, its projections and its `/v1` routes. */
export interface Registry {
  readonly projections: Projections;
  /** Logs an event and updates the projections (what the consumer does per delivery). */
  record(event: AnyEvent): Promise<{ logged: boolean; changed: boolean }>;
  /** Deletes the projections and rebuilds them from the log alone. Run it with the consumer stopped. */
  rebuild(): Promise<{ events: number }>;
  readonly reconciler: Reconciler;
  /** One pass of the reconciler over every run (the timer calls it; tests call it with their clock). */
  reconcile(now?: Date): Promise<Map<string, ReconcileAction>>;
  registerRoutes(router: Router): void;
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** The run events the registry consumes (every event of a run; not commands nor upstream requests). */
export const RUN_EVENT_TYPES = runEventTypes;

const SOURCE = "/retrain/registry";

const RunsQuery = z.object({
  pipeline: z.string().min(1).optional(),
  outcome: RunOutcome.optional(),
  /** Page size (default 100) and offset; the answer has `count` (all matches) and a `nextLink` while more remain. */
  top: z.coerce.number().int().min(1).max(1000).default(100),
  skip: z.coerce.number().int().min(0).default(0),
});
const TargetQuery = z.object({ target: z.string().min(1) });
const ServedQuery = z.object({ target: z.string().min(1), at: z.iso.datetime({ offset: true }) });

function canSee(principal: Principal, workspace: string | undefined): boolean {
  return principal.workspace === "*" || (workspace !== undefined && principal.workspace === workspace);
}

function startedAt(doc: RunDocument): string {
  return doc.stages[0]?.at ?? "";
}

/** A run as the list shows it. */
export interface RunSummary {
  readonly runId: string;
  readonly pipeline: string;
  readonly runSequence: number;
  readonly workspace: string | null;
  readonly trigger: RunDocument["trigger"] | null;
  readonly datasetSha256: string | null;
  readonly outcome: RunOutcome;
  readonly terminal: boolean;
  readonly startedAt: string | null;
  readonly lastEventAt: string | null;
}

/** A run as the list shows it. */
export function runSummary(doc: RunDocument): RunSummary {
  const { outcome, terminal } = runOutcome(doc);
  const last = doc.stages[doc.stages.length - 1];
  return {
    runId: doc.runId,
    pipeline: doc.pipeline,
    runSequence: doc.runSequence,
    workspace: doc.workspace ?? null,
    trigger: doc.trigger ?? null,
    datasetSha256: doc.dataset?.sha256 ?? null,
    outcome,
    terminal,
    startedAt: startedAt(doc) || null,
    lastEventAt: last?.at ?? null,
  };
}

/** A run's timeline: every stage with its time and the duration since the previous stage. */
export function runTimeline(doc: RunDocument): Record<string, unknown> {
  let previous: number | undefined;
  const stages = doc.stages.map((s) => {
    const at = Date.parse(s.at);
    const durationMs = previous === undefined ? null : at - previous;
    previous = at;
    return {
      stage: s.stage,
      at: s.at,
      durationMs,
      eventId: s.eventId,
      eventType: s.eventType,
      ...(s.target !== undefined ? { target: s.target } : {}),
      ...(s.detail !== undefined ? { detail: s.detail } : {}),
    };
  });
  const first = doc.stages[0];
  const last = doc.stages[doc.stages.length - 1];
  return {
    ...runSummary(doc),
    totalMs: first !== undefined && last !== undefined ? Date.parse(last.at) - Date.parse(first.at) : null,
    stages,
  };
}

/** A run's lineage: dataset → job → model → evaluation → approval → endpoint updates. */
export function runLineage(doc: RunDocument): Record<string, unknown> {
  return {
    runId: doc.runId,
    pipeline: doc.pipeline,
    runSequence: doc.runSequence,
    dataset: doc.dataset ?? (doc.job?.datasetSha256 !== undefined ? { sha256: doc.job.datasetSha256 } : null),
    job: doc.job ?? null,
    model: doc.model ?? null,
    evaluation: doc.evaluation ?? null,
    approval: doc.approval ?? null,
    endpoints: doc.updates,
  };
}

function entryView(entry: PromotionEntry): Record<string, unknown> {
  return { revision: entry.revision, modelId: entry.modelId, runId: entry.runId, runSequence: entry.runSequence, kind: entry.kind, at: entry.at };
}

/** The entry in force at `at`: the latest change made at or before it (by time, then revision). */
export function servedAt(doc: TargetDocument, at: string): PromotionEntry | undefined {
  const t = Date.parse(at);
  let served: PromotionEntry | undefined;
  for (const entry of doc.history) {
    const when = Date.parse(entry.at);
    if (when > t) continue;
    if (served === undefined || when > Date.parse(served.at) || (when === Date.parse(served.at) && entry.revision > served.revision)) served = entry;
  }
  return served;
}

/** A run's timeline with what the reconciler did for it: its requests as stages, and whether it is stuck. */
export function runTimelineWithReconciler(doc: RunDocument, state: ReconcilerDocument | undefined): Record<string, unknown> {
  const timeline = runTimeline(doc);
  const requests = state?.requests ?? [];
  if (requests.length === 0 && state?.stuck === undefined) return { ...timeline, redrives: [], stuck: null };
  const entries: Array<{ stage: string; at: string; eventType?: string | undefined; eventId?: string | undefined; target?: string | undefined; detail?: string | undefined }> = [
    ...doc.stages,
    ...requests.map((r) => ({ stage: "redrive-requested", at: r.at, eventType: EventTypes.RunRedriveRequested, eventId: r.eventId, detail: `${r.stage}, attempt ${r.attempt}` })),
    ...(state?.stuck !== undefined ? [{ stage: "stuck", at: state.stuck.at, detail: `${state.stuck.stage} after ${state.stuck.attempts} re-drive requests` }] : []),
  ].sort((a, b) => a.at.localeCompare(b.at));
  let previous: number | undefined;
  const stages = entries.map((s) => {
    const at = Date.parse(s.at);
    const durationMs = previous === undefined ? null : at - previous;
    previous = at;
    return { ...s, durationMs };
  });
  return { ...timeline, stages, redrives: requests, stuck: state?.stuck ?? null };
}

function targetView(doc: TargetDocument): Record<string, unknown> {
  const current = doc.history.reduce<PromotionEntry | undefined>((latest, h) => (latest === undefined || h.revision > latest.revision ? h : latest), undefined);
  return {
    target: doc.target,
    workspace: doc.workspace ?? null,
    kind: doc.target.split(":", 1)[0] ?? null,
    current: current === undefined ? null : entryView(current),
    revision: current?.revision ?? null,
    modelId: current?.modelId ?? null,
    changes: doc.history.length,
  };
}

/** Deletes the projections and replays the log into them (the `rebuild` command and {@link Registry.rebuild}). */
export async function rebuildFromLog(store: BlobStore, logger: Logger): Promise<{ events: number }> {
  const projections = new Projections(store);
  // Half-rebuilt runs look late and finished ones look unknown: the reconciler pauses meanwhile.
  await store.put(REBUILD_MARKER, JSON.stringify({ startedAt: new Date().toISOString() }), { contentType: "application/json" });
  try {
    await projections.clear();
    let events = 0;
    for await (const entry of readLog(store)) {
      await projections.apply(entry.event);
      events++;
    }
    logger.info({ events }, "registry projections rebuilt from the log");
    return { events };
  } finally {
    await store.delete(REBUILD_MARKER);
  }
}

/** Present once the open-run markers were built from the run documents (see {@link ensureOpenRunIndex}). */
export const OPEN_RUN_INDEX_MARKER = "registry/open-runs-indexed.json";

/**
 * Builds the open-run markers from every run document, once per store: the registries before the
 * index kept none. After that, projecting an event keeps a run's marker (and a redelivered event
 * repairs one a crash left unwritten), and a rebuild replays them with the runs.
 */
export async function ensureOpenRunIndex(store: BlobStore, projections: Projections, logger: Logger): Promise<void> {
  if ((await store.head(OPEN_RUN_INDEX_MARKER)) !== undefined) return;
  const open = await projections.reindexOpenRuns();
  await store.put(OPEN_RUN_INDEX_MARKER, JSON.stringify({ indexedAt: new Date().toISOString(), open }), { contentType: "application/json" });
  logger.info({ open }, "open-run index built from the run documents");
}

/** Present while a rebuild runs (in any process). */
export const REBUILD_MARKER = "registry/rebuilding.json";
/** A marker older than this is a rebuild that died: the reconciler goes on. */
const REBUILD_MARKER_MAX_AGE_MS = 3_600_000;

async function rebuildInProgress(store: BlobStore, now: Date): Promise<boolean> {
  const marker = await store.head(REBUILD_MARKER);
  return marker !== undefined && now.getTime() - marker.lastModified.getTime() < REBUILD_MARKER_MAX_AGE_MS;
}

/**
 * Every run's summary as the run list reads them: one listing of the runs plus a read of each run
 * that changed since the last listing, not a read of every run ever made (the UI asks every few seconds).
 */
export function runSummaries(store: BlobStore): CachedListing<RunSummary> {
  return new CachedListing(store, RUNS_PREFIX, (value) => runSummary(RunDocument.parse(value)));
}

/** Builds the registry from its dependencies (no I/O until `start`). */
export function createRegistry(deps: RegistryDeps): Registry {
  const projections = new Projections(deps.store);
  const summaries = runSummaries(deps.store);
  const runMetrics = deps.metrics === undefined ? undefined : new RunMetrics(deps.metrics, projections);
  const spans = new SpanStore(deps.spans);
  const subscriptions: Subscription[] = [];
  const rollbackDeps = { store: deps.store, bus: deps.bus, projections, logger: deps.logger, source: SOURCE };
  const reconciler = new Reconciler(
    { ...rollbackDeps, onPromotionRedrive: async (runId) => void (await publishRollback(runId, rollbackDeps)) },
    deps.reconciler,
  );
  const promotionDeadlineMs = deps.reconciler?.deadlinesMs?.promotion ?? 10 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  let reconciling: Promise<unknown> = Promise.resolve();

  let openRunsIndexed = false;

  async function reconcile(now: Date = new Date()): Promise<Map<string, ReconcileAction>> {
    if (await rebuildInProgress(deps.store, new Date())) return new Map();
    if (!openRunsIndexed) {
      await ensureOpenRunIndex(deps.store, projections, deps.logger);
      openRunsIndexed = true;
    }
    // A rollback whose approval never came back (the publish failed or was lost) is published again.
    for await (const doc of unseenRollbacks(rollbackDeps, now, promotionDeadlineMs)) {
      deps.logger.warn({ run_id: doc.rollbackRunId }, "rollback approval not seen back; publishing it again");
      await publishRollback(doc.rollbackRunId, rollbackDeps);
    }
    return reconciler.reconcile(now);
  }

  async function record(event: AnyEvent): Promise<{ logged: boolean; changed: boolean }> {
    // Log first: the log is the source of truth; the projections can always be rebuilt from it.
    const logged = await appendToLog(deps.store, event);
    const changed = runMetrics === undefined ? await projections.apply(event) : await runMetrics.around(event, () => projections.apply(event));
    return { logged, changed };
  }

  async function visibleRun(runId: string, principal: Principal): Promise<RunDocument> {
    const doc = await projections.run(runId);
    if (doc === undefined || !canSee(principal, doc.workspace)) throw new HttpError(404, "NotFound", `No run '${runId}' found.`);
    return doc;
  }

  async function visibleTarget(key: string, principal: Principal): Promise<TargetDocument> {
    const doc = await projections.target(key);
    if (doc === undefined || !canSee(principal, doc.workspace)) throw new HttpError(404, "NotFound", `No promotion history for target '${key}'.`);
    return doc;
  }

  return {
    projections,
    record,
    reconciler,
    reconcile,
    rebuild: () => rebuildFromLog(deps.store, deps.logger),
    registerRoutes(router) {
      const auth = requireApiKey(deps.verifyKey);
      registerOtlpRoutes(router, { spans, auth, visibleRun });
      registerUiRoutes(router);
      registerDeadLetterRoutes(router, { bus: deps.bus, verifyKey: deps.verifyKey });
      router.get("/v1/runs", auth, async (req, res) => {
        const principal = principalOf<Principal>(res);
        const query = RunsQuery.parse(req.query);
        const docs = (await summaries.values()).filter(
          (run) =>
            canSee(principal, run.workspace ?? undefined) &&
            (query.pipeline === undefined || run.pipeline === query.pipeline) &&
            (query.outcome === undefined || run.outcome === query.outcome),
        );
        docs.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || b.runSequence - a.runSequence);
        const page = docs.slice(query.skip, query.skip + query.top);
        const more = query.skip + page.length < docs.length;
        const next = new URLSearchParams({
          ...(query.pipeline !== undefined ? { pipeline: query.pipeline } : {}),
          ...(query.outcome !== undefined ? { outcome: query.outcome } : {}),
          top: String(query.top),
          skip: String(query.skip + query.top),
        });
        res.json({
          value: page,
          count: docs.length,
          ...(more ? { nextLink: `${req.protocol}://${req.get("host") ?? "localhost"}/v1/runs?${next.toString()}` } : {}),
        });
      });
      router.get("/v1/runs/:runId", auth, async (req, res) => {
        const doc = await visibleRun(routeParam(req, "runId"), principalOf<Principal>(res));
        res.json(runTimelineWithReconciler(doc, await reconciler.state(doc.runId)));
      });
      router.get("/v1/stuck", auth, async (_req, res) => {
        const principal = principalOf<Principal>(res);
        const value: Array<Record<string, unknown>> = [];
        for await (const { state, run } of reconciler.stuck()) {
          if (!canSee(principal, run?.workspace)) continue;
          value.push({
            runId: state.runId,
            pipeline: state.pipeline,
            stage: state.stage,
            since: state.since,
            attempts: state.stuck?.attempts ?? state.attempts,
            stuckAt: state.stuck?.at ?? null,
            outcome: run === undefined ? null : runOutcome(run).outcome,
          });
        }
        res.json({ value });
      });
      router.get("/v1/targets", auth, async (_req, res) => {
        const principal = principalOf<Principal>(res);
        const value: Array<Record<string, unknown>> = [];
        for await (const doc of projections.targets()) if (canSee(principal, doc.workspace)) value.push(targetView(doc));
        value.sort((a, b) => String(a["target"]).localeCompare(String(b["target"])));
        res.json({ value });
      });
      router.post("/v1/targets/rollback", auth, async (req, res) => {
        const principal = principalOf<Principal>(res);
        assertAdmin(principal, "roll a target back");
        const request = RollbackRequest.parse(req.body ?? {});
        res.status(202).json(await requestRollback(request, principal.name, rollbackDeps));
      });
      router.get("/v1/runs/:runId/lineage", auth, async (req, res) => {
        res.json(runLineage(await visibleRun(routeParam(req, "runId"), principalOf<Principal>(res))));
      });
      router.get("/v1/targets/history", auth, async (req, res) => {
        const { target } = TargetQuery.parse(req.query);
        const doc = await visibleTarget(target, principalOf<Principal>(res));
        res.json({ target: doc.target, value: doc.history.map(entryView) });
      });
      router.get("/v1/targets/served", auth, async (req, res) => {
        const { target, at } = ServedQuery.parse(req.query);
        const doc = await visibleTarget(target, principalOf<Principal>(res));
        const entry = servedAt(doc, at);
        res.json({ target: doc.target, at: new Date(at).toISOString(), served: entry === undefined ? null : entryView(entry) });
      });
    },
    async start() {
      subscriptions.push(
        await deps.bus.subscribe({
          group: "registry",
          types: RUN_EVENT_TYPES,
          concurrency: deps.concurrency ?? 4,
          // The log (ifNoneMatch "*") and the projections' inboxes dedupe; nothing to remember here.
          inbox: { seen: async () => false },
          handler: async (event) => {
            await record(event as AnyEvent);
          },
        }),
      );
      const interval = deps.reconciler?.intervalMs ?? 30_000;
      if (interval > 0) {
        timer = setInterval(() => {
          reconciling = reconcile().catch((error: unknown) => deps.logger.error({ err: error }, "reconciler pass failed"));
        }, interval);
        timer.unref();
      }
    },
    async stop(graceMs = 10_000) {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
      await reconciling;
    },
  };
}
