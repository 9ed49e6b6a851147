import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import type { EventBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, RedriveStage, type CloudEvent } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { z } from "zod";
import { runOutcome, type Projections, type RunDocument } from "./projections.js";

/** Prefix of the reconciler's own documents (one per run it looked after); not a projection, so a rebuild keeps them. */
export const RECONCILER_PREFIX = "registry/reconciler/";

/** How long a run may wait in each stage for its owner's outcome. */
export interface StageDeadlines {
  readonly training: number;
  readonly evaluation: number;
  readonly promotion: number;
}

/** Training can take a while on big datasets; evaluation and promotion are minutes at most. */
export const DEFAULT_STAGE_DEADLINES_MS: StageDeadlines = { training: 30 * 60_000, evaluation: 10 * 60_000, promotion: 10 * 60_000 };

/** Options of the reconciler. */
export interface ReconcilerOptions {
  /** Per-stage deadlines, ms. Default {@link DEFAULT_STAGE_DEADLINES_MS}. */
  readonly deadlinesMs?: Partial<StageDeadlines>;
  /** Re-drive requests per stage before the run is reported stuck. Default 3. */
  readonly maxAttempts?: number;
  /** How often the registry looks for late runs. Default 30 000; 0 leaves the timer off (`reconcile()` still works). */
  readonly intervalMs?: number;
}

const RedriveRecord = z.object({ stage: RedriveStage, attempt: z.number().int().positive(), at: z.string(), eventId: z.string() });

/** What the reconciler knows about one run: the stage it waits in, the requests it sent, whether it gave up. */
export const ReconcilerDocument = z.object({
  runId: z.string(),
  pipeline: z.string(),
  stage: RedriveStage,
  /** When the run entered the stage (the time of its latest event). */
  since: z.string(),
  /** Requests sent for this stage since the run entered it. */
  attempts: z.number().int().nonnegative(),
  lastAttemptAt: z.string().optional(),
  /** Every request ever sent for the run (shown in its timeline). */
  requests: z.array(RedriveRecord),
  stuck: z.object({ at: z.string(), stage: RedriveStage, attempts: z.number().int() }).optional(),
});
export type ReconcilerDocument = z.infer<typeof ReconcilerDocument>;

const asDoc = (value: unknown): ReconcilerDocument => ReconcilerDocument.parse(value);

/** The reconciler document of a run. */
export function reconcilerBlobName(runId: string): string {
  return `${RECONCILER_PREFIX}${encodeURIComponent(runId)}.json`;
}

/**
 * The stage a run waits in and since when, or undefined when it waits for nobody: it is terminal, or a
 * person has to approve it (a pending approval has no deadline).
 */
export function awaitedStage(doc: RunDocument): { stage: RedriveStage; since: string } | undefined {
  const { outcome, terminal } = runOutcome(doc);
  if (terminal || outcome === "awaiting-approval") return undefined;
  const since = doc.stages[doc.stages.length - 1]?.at;
  if (since === undefined) return undefined;
  if (doc.approval?.decision === "approved") return { stage: "promotion", since };
  if (doc.model !== undefined) return { stage: "evaluation", since };
  return { stage: "training", since };
}

/** What one look at one run did. */
export type ReconcileAction = "waiting" | "redriven" | "stuck" | "none";

/** Everything the reconciler needs. */
export interface ReconcilerDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly projections: Projections;
  readonly logger: Logger;
  readonly source: string;
  /** Called when a promotion is re-driven: the registry re-publishes a rollback approval it owns. */
  readonly onPromotionRedrive?: (runId: string) => Promise<void>;
}

/**
 * The reconciler: a run not terminal past its stage deadline gets a `RunRedriveRequested` for that
 * stage (its owners re-publish what they have, same ids); after `maxAttempts` requests without
 * progress it is reported stuck. Progress (a new event) resets the count for the new stage.
 */
export class Reconciler {
  readonly #deadlines: StageDeadlines;
  readonly #maxAttempts: number;

  constructor(
    private readonly deps: ReconcilerDeps,
    options: ReconcilerOptions = {},
  ) {
    this.#deadlines = { ...DEFAULT_STAGE_DEADLINES_MS, ...options.deadlinesMs };
    this.#maxAttempts = options.maxAttempts ?? 3;
  }

  async state(runId: string): Promise<ReconcilerDocument | undefined> {
    return (await readJson(this.deps.store, reconcilerBlobName(runId), asDoc))?.value;
  }

  /** Looks at every open run once; returns what it did per run it acted on. */
  async reconcile(now: Date = new Date()): Promise<Map<string, ReconcileAction>> {
    const actions = new Map<string, ReconcileAction>();
    for await (const doc of this.deps.projections.openRuns()) {
      try {
        const action = await this.reconcileRun(doc, now);
        if (action !== "none" && action !== "waiting") actions.set(doc.runId, action);
      } catch (error) {
        this.deps.logger.error({ err: error, run_id: doc.runId }, "reconciling a run failed; tried again on the next pass");
      }
    }
    return actions;
  }

  /** Looks at one run. */
  async reconcileRun(doc: RunDocument, now: Date = new Date()): Promise<ReconcileAction> {
    const awaited = awaitedStage(doc);
    if (awaited === undefined) return "none";
    const { stage, since } = awaited;
    const deadline = this.#deadlines[stage];
    let decision: { action: ReconcileAction; event?: CloudEvent<typeof EventTypes.RunRedriveRequested> } = { action: "waiting" };
    await updateJson(this.deps.store, reconcilerBlobName(doc.runId), asDoc, (current) => {
      decision = { action: "waiting" };
      const fresh = current === undefined || current.stage !== stage || current.since !== since;
      const state: ReconcilerDocument = fresh
        ? { runId: doc.runId, pipeline: doc.pipeline, stage, since, attempts: 0, requests: current?.requests ?? [] }
        : { ...current };
      const last = Date.parse(state.lastAttemptAt ?? state.since);
      if (now.getTime() - last < deadline) return fresh && current !== undefined ? state : undefined;
      if (state.attempts >= this.#maxAttempts) {
        if (state.stuck !== undefined) return undefined;
        decision = { action: "stuck" };
        return { ...state, stuck: { at: now.toISOString(), stage, attempts: state.attempts } };
      }
      const attempt = state.attempts + 1;
      // One id per (run, stage entered at, attempt): replicas of the registry asking at once are one request.
      const event = createEvent(
        EventTypes.RunRedriveRequested,
        { runId: doc.runId, ...(doc.pipeline !== "" ? { pipeline: doc.pipeline } : {}), stage, attempt },
        { source: this.deps.source, id: deterministicEventId(doc.runId, EventTypes.RunRedriveRequested, `${stage}@${since}#${attempt}`), time: now },
      );
      decision = { action: "redriven", event };
      return {
        ...state,
        attempts: attempt,
        lastAttemptAt: now.toISOString(),
        requests: [...state.requests, { stage, attempt, at: now.toISOString(), eventId: event.id }],
      };
    });
    const { action, event } = decision as { action: ReconcileAction; event?: CloudEvent<typeof EventTypes.RunRedriveRequested> };
    if (action === "stuck") {
      this.deps.logger.warn({ run_id: doc.runId, stage, attempts: this.#maxAttempts }, "run is stuck: re-driving it did not move it on");
    } else if (event !== undefined) {
      this.deps.logger.info({ run_id: doc.runId, stage, attempt: event.data.attempt }, "run past its stage deadline: asking its owners to re-publish");
      await this.deps.bus.publish(event);
      if (stage === "promotion") await this.deps.onPromotionRedrive?.(doc.runId);
    }
    return action;
  }

  /** Runs reported stuck that are still not terminal. */
  async *stuck(): AsyncIterable<{ state: ReconcilerDocument; run: RunDocument | undefined }> {
    for await (const props of this.deps.store.list(RECONCILER_PREFIX)) {
      const state = (await readJson(this.deps.store, props.name, asDoc))?.value;
      if (state?.stuck === undefined) continue;
      const run = await this.deps.projections.run(state.runId);
      if (run !== undefined && runOutcome(run).terminal) continue;
      const awaited = run === undefined ? undefined : awaitedStage(run);
      // The run moved on since it was reported: it is not stuck any more.
      if (awaited !== undefined && (awaited.stage !== state.stage || awaited.since !== state.since)) continue;
      yield { state, run };
    }
  }
}
