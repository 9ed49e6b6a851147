import type { BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes, type AnyEvent, type EventType } from "@retrain/contracts";
import { HttpError, principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Router } from "express";
import { z } from "zod";
import { appendToLog, readLog } from "./log.js";
import { Projections, runOutcome, type PromotionEntry, type RunDocument, type TargetDocument } from "./projections.js";

/** What the registry is built from. */
export interface RegistryDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Events handled at once. Default 4. */
  readonly concurrency?: number;
}

/** The registry: its all-run-events consumer, its projections and its `/v1` routes. */
export interface Registry {
  readonly projections: Projections;
  /** Logs an event and updates the projections (what the consumer does per delivery). */
  record(event: AnyEvent): Promise<{ logged: boolean; changed: boolean }>;
  /** Deletes the projections and rebuilds them from the log alone. Run it with the consumer stopped. */
  rebuild(): Promise<{ events: number }>;
  registerRoutes(router: Router): void;
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** The run events the registry consumes (every event of a run; not commands nor upstream requests). */
export const RUN_EVENT_TYPES = [
  EventTypes.DataArrived,
  EventTypes.TrainingFailed,
  EventTypes.ModelTrained,
  EventTypes.ModelApproved,
  EventTypes.ModelRejected,
  EventTypes.ModelAwaitingApproval,
  EventTypes.EndpointUpdated,
  EventTypes.PromotionFailed,
] as const satisfies readonly EventType[];

const RunsQuery = z.object({
  pipeline: z.string().min(1).optional(),
  outcome: z.enum(["running", "awaiting-approval", "approved", "failed", "rejected", "promoted", "promotion-failed"]).optional(),
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
export function runSummary(doc: RunDocument): Record<string, unknown> {
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

/** Builds the registry from its dependencies (no I/O until `start`). */
export function createRegistry(deps: RegistryDeps): Registry {
  const projections = new Projections(deps.store);
  const subscriptions: Subscription[] = [];

  async function record(event: AnyEvent): Promise<{ logged: boolean; changed: boolean }> {
    // Log first: the log is the source of truth; the projections can always be rebuilt from it.
    const logged = await appendToLog(deps.store, event);
    const changed = await projections.apply(event);
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
    async rebuild() {
      await projections.clear();
      let events = 0;
      for await (const entry of readLog(deps.store)) {
        await projections.apply(entry.event);
        events++;
      }
      deps.logger.info({ events }, "registry projections rebuilt from the log");
      return { events };
    },
    registerRoutes(router) {
      const auth = requireApiKey(deps.verifyKey);
      router.get("/v1/runs", auth, async (req, res) => {
        const principal = principalOf<Principal>(res);
        const query = RunsQuery.parse(req.query);
        const docs: RunDocument[] = [];
        for await (const doc of projections.runs()) {
          if (!canSee(principal, doc.workspace)) continue;
          if (query.pipeline !== undefined && doc.pipeline !== query.pipeline) continue;
          if (query.outcome !== undefined && runOutcome(doc).outcome !== query.outcome) continue;
          docs.push(doc);
        }
        docs.sort((a, b) => startedAt(b).localeCompare(startedAt(a)) || b.runSequence - a.runSequence);
        res.json({ value: docs.map(runSummary) });
      });
      router.get("/v1/runs/:runId", auth, async (req, res) => {
        res.json(runTimeline(await visibleRun(routeParam(req, "runId"), principalOf<Principal>(res))));
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
    },
    async stop(graceMs = 10_000) {
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
    },
  };
}
