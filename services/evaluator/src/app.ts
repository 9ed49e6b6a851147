import type { BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Router } from "express";
import { z } from "zod";
import { Evaluations, type EvaluationDocument } from "./evaluation.js";
import { decideApproval, evaluationFor } from "./handlers/approvals.js";
import { onModelTrained, type ChampionSource } from "./handlers/model-trained.js";
import { onRedriveRequested, onRunCancelled } from "./handlers/run-control.js";
import { relayOutbox } from "./relay.js";

/** What the evaluator is built from. */
export interface EvaluatorDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Where each target's champion comes from: the scoring host (`ScoringClient`). */
  readonly champions: ChampionSource;
  /** ModelTrained events evaluated at once. Default 2. */
  readonly concurrency?: number;
}

/** How often outboxes left behind (by any replica) are looked for after start. */
const OUTBOX_SWEEP_MS = 5 * 60_000;

/** The evaluator: its ModelTrained consumer and its `/v1` routes (evaluations, approvals). */
export interface Evaluator {
  readonly evaluations: Evaluations;
  registerRoutes(router: Router): void;
  /** Relays outboxes a crash left behind, then subscribes to ModelTrained. */
  start(): Promise<void>;
  /** Closes the subscription (two-phase: in-flight evaluations get `graceMs`, then are given back). */
  stop(graceMs?: number): Promise<void>;
}

const SOURCE = "/retrain/evaluator";

/** `POST /v1/runs/{runId}/approve|reject` body. */
export const DecisionBody = z.object({ reason: z.string().max(2000).optional() }).strict();

/** `GET /v1/approvals` query. */
const ApprovalsQuery = z.object({ state: z.enum(["pending", "approved", "rejected"]).default("pending") });

/** A run's evaluation as the API shows it (no inbox; the outbox as a count). */
export function evaluationView(doc: EvaluationDocument): Record<string, unknown> {
  const { trained } = doc;
  return {
    runId: doc.runId,
    pipeline: trained.pipeline,
    runSequence: trained.runSequence,
    workspace: doc.workspace,
    state: doc.state,
    policy: trained.plan.evaluation,
    reason: doc.reason,
    challenger: { modelId: trained.model.modelId, metrics: doc.challenger },
    champions: doc.champions,
    evaluatedAt: doc.evaluatedAt,
    decidedAt: doc.decidedAt ?? null,
    approval: doc.approval ?? null,
    pendingEvents: doc.outbox.length,
    cancelled: doc.cancelled ?? null,
  };
}

/** Builds the evaluator from its dependencies (no I/O until `start`). */
export function createEvaluator(deps: EvaluatorDeps): Evaluator {
  const evaluations = new Evaluations(deps.store);
  // What GET /v1/approvals filters on, per run: a listing re-reads only the evaluations that changed.
  const approvals = evaluations.listing((doc) => ({ state: doc.approval?.state, cancelled: doc.cancelled !== undefined, workspace: doc.workspace, view: evaluationView(doc) }));
  const handlerDeps = { store: deps.store, bus: deps.bus, evaluations, champions: deps.champions, source: SOURCE };
  const subscriptions: Subscription[] = [];
  let sweep: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();

  /**
   * Relays the outboxes a crash left behind — this process's at start, another replica's on a later
   * sweep — found by their markers; sweeps run one after another. Failures are logged: the next
   * sweep (or the registry's re-drive) tries again.
   */
  function relayLeftBehind(): Promise<void> {
    sweeping = sweeping.then(async () => {
      try {
        for await (const doc of evaluations.withOutbox()) {
          deps.logger.info({ run_id: doc.runId, events: doc.outbox.length }, "relaying an outbox left behind");
          await relayOutbox(doc, handlerDeps);
        }
      } catch (error) {
        deps.logger.error({ err: error }, "relaying outboxes left behind failed");
      }
    });
    return sweeping;
  }

  return {
    evaluations,
    registerRoutes(router) {
      const auth = requireApiKey(deps.verifyKey);
      router.get("/v1/runs/:runId/evaluation", auth, async (req, res) => {
        const doc = await evaluationFor(evaluations, routeParam(req, "runId"), principalOf<Principal>(res));
        res.json(evaluationView(doc));
      });
      for (const [verb, approve] of [["approve", true], ["reject", false]] as const) {
        router.post(`/v1/runs/:runId/${verb}`, auth, async (req, res) => {
          const body = DecisionBody.parse(req.body ?? {});
          const doc = await decideApproval(
            routeParam(req, "runId"),
            { approve, principal: principalOf<Principal>(res), ...(body.reason !== undefined ? { reason: body.reason } : {}) },
            { bus: deps.bus, evaluations, source: SOURCE },
          );
          res.json(evaluationView(doc));
        });
      }
      router.get("/v1/approvals", auth, async (req, res) => {
        const principal = principalOf<Principal>(res);
        const { state } = ApprovalsQuery.parse(req.query);
        const value = (await approvals.values())
          .filter((a) => a.state === state && !a.cancelled && (principal.workspace === "*" || principal.workspace === a.workspace))
          .map((a) => a.view);
        res.json({ value });
      });
    },
    async start() {
      await relayLeftBehind();
      sweep = setInterval(() => void relayLeftBehind(), OUTBOX_SWEEP_MS);
      sweep.unref();
      subscriptions.push(
        await deps.bus.subscribe({
          group: "evaluator",
          types: [EventTypes.ModelTrained],
          concurrency: deps.concurrency ?? 2,
          // The run's evaluation document is the inbox: a duplicate finds the decision made.
          inbox: { seen: async () => false },
          handler: (event, context) => onModelTrained(event, context, handlerDeps),
        }),
        await deps.bus.subscribe({
          group: "evaluator-run-control",
          types: [EventTypes.RunCancelled],
          // The cancel marker and the evaluation document are the inbox.
          inbox: { seen: async () => false },
          handler: (event, context) => onRunCancelled(event, context, handlerDeps),
        }),
        await deps.bus.subscribe({
          group: "evaluator-redrive",
          types: [EventTypes.RunRedriveRequested],
          handler: (event, context) => onRedriveRequested(event, context, handlerDeps),
        }),
      );
    },
    async stop(graceMs = 10_000) {
      clearInterval(sweep);
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
      await sweeping;
    },
  };
}
