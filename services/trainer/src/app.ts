import { JobService, registerBesRoutes, runQueuedJob } from "@retrain/bes";
import type { BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { assertWorkspaceAccess, HttpError, principalOf, requireApiKey, routeParam, SecretBox, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Request, Router } from "express";
import { onDataArrived } from "./handlers/data-arrived.js";
import { onRedriveRequested, onRunCancelled } from "./handlers/run-control.js";
import { TrainingExecutor } from "./executor.js";
import { TrainingServiceDefinition, TrainingServices } from "./training-services.js";

/** What the trainer is built from. */
export interface TrainerDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Logical container name recorded in BlobRefs. */
  readonly container: string;
  readonly concurrency?: number;
  /** Ack wait of the training-job queue (heartbeats keep a running job's message alive). Default 30 s. */
  readonly jobAckWaitMs?: number;
  readonly allowedHosts?: readonly string[];
  readonly ownHost?: string;
  /** Key-encryption key (`RETRAIN_KEK`): seals connection strings and SAS URLs in job documents. Default none (stored in clear). */
  readonly kek?: Buffer;
  /** Lifetime of the SAS in a finished job's `Results` (minted anew on every GET). Default 24 h. */
  readonly resultSasLifetimeMs?: number;
}

/** The trainer: BES routes for training web services, their definitions, and its two consumers. */
export interface Trainer {
  readonly services: TrainingServices;
  readonly jobs: JobService;
  /**
   * Registers the training-service routes and (by default) the BES routes. An embedded host serving
   * the scoring host too passes `besRoutes: false` and registers `registerBesRoutes` once for both.
   */
  registerRoutes(router: Router, options?: { besRoutes?: boolean }): void;
  /** Subscribes its consumers (DataArrived; queued training jobs). */
  start(): Promise<void>;
  /** Closes its subscriptions (two-phase: in-flight jobs get `graceMs`, then are given back). */
  stop(graceMs?: number): Promise<void>;
}

const SOURCE = "/retrain/trainer";

/** Builds the trainer from its dependencies (no I/O until `start`). */
export function createTrainer(deps: TrainerDeps): Trainer {
  const services = new TrainingServices(deps.store);
  const executor = new TrainingExecutor({ services, container: deps.container, source: SOURCE, logger: deps.logger });
  const jobs = new JobService({
    store: deps.store,
    bus: deps.bus,
    executor,
    logger: deps.logger,
    prefix: "trainer",
    source: SOURCE,
    ...(deps.kek !== undefined ? { secrets: new SecretBox(deps.kek, "bes-jobs") } : {}),
    ...(deps.resultSasLifetimeMs !== undefined ? { resultSasLifetimeMs: deps.resultSasLifetimeMs } : {}),
    allowedHosts: deps.allowedHosts ?? [],
    ...(deps.ownHost !== undefined ? { ownHost: deps.ownHost } : {}),
  });
  const subscriptions: Subscription[] = [];
  const runControl = { store: deps.store, jobs, bus: deps.bus };

  return {
    services,
    jobs,
    registerRoutes(router, options = {}) {
      if (options.besRoutes ?? true) registerBesRoutes(router, { jobs, verifyKey: deps.verifyKey });
      const auth = requireApiKey(deps.verifyKey);
      const base = "/v1/workspaces/:workspace/training-services";
      const workspaceOf = (req: Request, principal: Principal) => {
        const workspace = routeParam(req, "workspace");
        assertWorkspaceAccess(principal, workspace, "training web service");
        return workspace;
      };
      router.get(base, auth, async (req, res) => {
        const workspace = workspaceOf(req, principalOf<Principal>(res));
        res.json({ value: await services.list(workspace) });
      });
      router.get(`${base}/:name`, auth, async (req, res) => {
        const workspace = workspaceOf(req, principalOf<Principal>(res));
        const name = routeParam(req, "name");
        const found = await services.get(workspace, name);
        if (found === undefined) throw new HttpError(404, "WebServiceNotFound", `Training web service '${name}' was not found.`);
        res.json(found);
      });
      router.put(`${base}/:name`, auth, async (req, res) => {
        const workspace = workspaceOf(req, principalOf<Principal>(res));
        const name = routeParam(req, "name");
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) {
          throw new HttpError(400, "BadArgument", "A training web service name is 1-128 letters, digits, '.', '_' or '-'.");
        }
        const definition = TrainingServiceDefinition.parse(req.body ?? {});
        const { service, created } = await services.put(workspace, name, definition);
        res.status(created ? 201 : 200).json(service);
      });
    },
    async start() {
      subscriptions.push(
        await deps.bus.subscribe({
          group: "trainer",
          types: [EventTypes.DataArrived],
          concurrency: 4,
          handler: (event, context) => onDataArrived(event, context, { ...runControl, source: SOURCE }),
        }),
        await deps.bus.subscribe({
          group: "trainer-run-control",
          types: [EventTypes.RunCancelled],
          handler: (event, context) => onRunCancelled(event, context, runControl),
        }),
        await deps.bus.subscribe({
          group: "trainer-redrive",
          types: [EventTypes.RunRedriveRequested],
          handler: (event, context) => onRedriveRequested(event, context, runControl),
        }),
        await deps.bus.subscribe({
          group: "trainer-jobs",
          types: [EventTypes.BatchJobQueued],
          concurrency: deps.concurrency ?? 1,
          maxAttempts: 5,
          ackWaitMs: deps.jobAckWaitMs ?? 30_000,
          // The job document is the inbox: a redelivered command re-reads it and does only what is left.
          inbox: { seen: async () => false },
          handler: (event, context) => runQueuedJob(event, context, jobs),
        }),
      );
    },
    async stop(graceMs = 10_000) {
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
    },
  };
}
