import type { IncomingMessage } from "node:http";
import type { BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import {
  HttpError,
  assertWorkspaceAccess,
  authenticateBearer,
  principalOf,
  requireApiKey,
  routeParam,
  type ApiKeyVerifier,
  type Principal,
} from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Request, Response, Router } from "express";
import { tickOf } from "./cron.js";
import { acceptBlobCreated } from "./handlers/blob-created.js";
import { acceptDatasetAvailable, readDatasetAvailable } from "./handlers/dataset-available.js";
import { RerunRequest, rerun } from "./handlers/rerun.js";
import { CancelRequest, cancelRun, onRedriveRequested, onRunProgress, pipelineView, RUN_END_TYPES } from "./handlers/run-control.js";
import { runSchedules, type ScheduledRun } from "./handlers/schedule.js";
import { acceptUpload } from "./handlers/upload.js";
import { requirePipeline, type IntakeDeps, type RunAccepted } from "./intake.js";
import { PIPELINE_NAME, PipelineDefinition, Pipelines, workspaceOf } from "./pipelines.js";
import { RunLedger } from "./runs.js";

/** What the ingestion service is built from. */
export interface IngestionDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Logical container name recorded in BlobRefs. */
  readonly container: string;
  /** Largest dataset accepted (upload or copy), bytes. Default 512 MiB. */
  readonly maxDatasetBytes?: number;
  /** Hosts datasets may be fetched from by URL. Default none (only `ownHost`). */
  readonly allowedHosts?: readonly string[];
  /** The own store's read-URL host, always allowed. */
  readonly ownHost?: string;
  /** Where a DatasetAvailable may name blobs of the store; `{workspace}` stands for the caller's. Default `uploads/`. */
  readonly datasetPrefixes?: readonly string[];
  /** The clock of schedules. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** How often the timer checks schedules (and retries the outbox). Default 60 000 ms. */
  readonly scheduleIntervalMs?: number;
}

/** The ingestion service: pipelines, the doors by which data arrives, schedules, and runs' identity. */
export interface Ingestion {
  readonly pipelines: Pipelines;
  readonly runs: RunLedger;
  registerRoutes(router: Router): void;
  /** Relays outboxes a crash left behind, then starts the schedule timer. */
  start(): Promise<void>;
  /** Stops the timer and waits (up to `graceMs`) for a tick in flight. */
  stop(graceMs?: number): Promise<void>;
  /** Every minute from the last one checked up to `now` (at most 10): runs the matching schedules. */
  tick(now?: Date): Promise<ScheduledRun[]>;
}

const SOURCE = "/retrain/ingestion";
/** Where a DatasetAvailable may name blobs of the store by default: the shared landing zone `uploads/`. */
export const DEFAULT_DATASET_PREFIXES: readonly string[] = ["uploads/"];

const DEFAULT_MAX_DATASET_BYTES = 512 * 1024 * 1024;
const MAX_CATCH_UP_MINUTES = 10;

function answerRun(res: Response, accepted: RunAccepted): void {
  res.status("held" in accepted || !accepted.deduplicated ? 202 : 200).json(accepted);
}

/** Reads the rest of a request we refused, so the client gets to read the answer; drops it past 8 MiB. */
function drain(req: IncomingMessage, res: Response): void {
  if (req.complete) return;
  let drained = 0;
  req.on("data", (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > 8 * 1024 * 1024) req.destroy();
  });
  req.resume();
  res.setHeader("connection", "close");
}

/** Builds the ingestion service from its dependencies (no I/O until `start`). */
export function createIngestion(deps: IngestionDeps): Ingestion {
  const pipelines = new Pipelines(deps.store);
  const runs = new RunLedger({ store: deps.store, bus: deps.bus, logger: deps.logger, source: SOURCE });
  const now = deps.now ?? (() => new Date());
  const intake: IntakeDeps = {
    store: deps.store,
    pipelines,
    runs,
    logger: deps.logger,
    container: deps.container,
    maxDatasetBytes: deps.maxDatasetBytes ?? DEFAULT_MAX_DATASET_BYTES,
    remote: { allowedHosts: deps.allowedHosts ?? [], ...(deps.ownHost !== undefined ? { ownHost: deps.ownHost } : {}) },
    datasetPrefixes: deps.datasetPrefixes ?? DEFAULT_DATASET_PREFIXES,
  };
  const control = { runs, bus: deps.bus, source: SOURCE };
  const subscriptions: Subscription[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  let lastTick: number | undefined;

  async function tick(at: Date = now()): Promise<ScheduledRun[]> {
    const minute = Date.parse(tickOf(at));
    const from = lastTick === undefined ? minute : Math.max(lastTick + 60_000, minute - (MAX_CATCH_UP_MINUTES - 1) * 60_000);
    const started: ScheduledRun[] = [];
    for (let t = from; t <= minute; t += 60_000) started.push(...(await runSchedules(new Date(t), intake)));
    lastTick = Math.max(lastTick ?? minute, minute);
    return started;
  }

  // Another workspace's pipeline gets exactly the answer of a missing one: no existence leak.
  const pipelineOf = async (req: Request, res: Response) => {
    const name = routeParam(req, "name");
    const pipeline = await requirePipeline(intake, name);
    assertWorkspaceAccess(principalOf<Principal>(res), workspaceOf(pipeline), "pipeline", () => new HttpError(404, "PipelineNotFound", `Pipeline '${name}' was not found.`));
    return pipeline;
  };

  return {
    pipelines,
    runs,
    tick,
    registerRoutes(router) {
      const auth = requireApiKey(deps.verifyKey);

      router.get("/v1/pipelines", auth, async (_req, res) => {
        const principal = principalOf<Principal>(res);
        const all = await pipelines.list();
        const visible = all.filter((p) => principal.workspace === "*" || principal.workspace === workspaceOf(p));
        res.json({ value: await Promise.all(visible.map(async (p) => pipelineView(p, await runs.state(p.name)))) });
      });
      router.get("/v1/pipelines/:name", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        assertWorkspaceAccess(principalOf<Principal>(res), workspaceOf(pipeline), "pipeline");
        res.json(pipelineView(pipeline, await runs.state(pipeline.name)));
      });
      router.post("/v1/pipelines/:name/pause", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        const principal = principalOf<Principal>(res);
        assertWorkspaceAccess(principal, workspaceOf(pipeline), "pipeline");
        const state = await runs.pause(pipeline.name, principal.name);
        deps.logger.info({ pipeline: pipeline.name, by: principal.name }, "pipeline paused");
        res.json(pipelineView(pipeline, state));
      });
      router.post("/v1/pipelines/:name/resume", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        const principal = principalOf<Principal>(res);
        assertWorkspaceAccess(principal, workspaceOf(pipeline), "pipeline");
        const { state, started } = await runs.resume(pipeline);
        deps.logger.info({ pipeline: pipeline.name, by: principal.name, started: started.length }, "pipeline resumed");
        res.json({ pipeline: pipelineView(pipeline, state), started });
      });
      router.post("/v1/pipelines/:name/runs/:runId/cancel", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        const request = CancelRequest.parse(req.body ?? {});
        const record = await cancelRun(pipeline, routeParam(req, "runId"), principalOf<Principal>(res), request, control);
        res.json({ runId: record.runId, pipeline: pipeline.name, cancelled: true, cancelledAt: record.cancelled?.at ?? null, cancelledBy: record.cancelled?.by ?? null });
      });
      router.put("/v1/pipelines/:name", auth, async (req, res) => {
        const principal = principalOf<Principal>(res);
        const name = routeParam(req, "name");
        if (!PIPELINE_NAME.test(name)) throw new HttpError(400, "BadArgument", "A pipeline name is 1-128 letters, digits, '.', '_' or '-', not ending in '.'.");
        const definition = PipelineDefinition.parse(req.body ?? {});
        assertWorkspaceAccess(principal, workspaceOf(definition), "training web service");
        const { pipeline, created } = await pipelines.put(name, definition, (current) => {
          // Pipeline names are global: the name is taken, but whose it is stays unsaid.
          if (current !== undefined) assertWorkspaceAccess(principal, workspaceOf(current), "pipeline", () => new HttpError(404, "PipelineNotFound", `Pipeline '${name}' was not found.`));
        });
        res.status(created ? 201 : 200).json(pipeline);
      });

      router.put("/v1/pipelines/:name/datasets", auth, async (req, res) => {
        try {
          const pipeline = await pipelineOf(req, res);
          const header = req.headers["x-retrain-filename"];
          const query = req.query["name"];
          const filename = typeof header === "string" ? header : typeof query === "string" ? query : undefined;
          const accepted = await acceptUpload(req, { pipeline, principal: principalOf<Principal>(res), ...(filename !== undefined ? { filename } : {}) }, intake);
          answerRun(res, accepted);
        } catch (error) {
          drain(req, res);
          throw error;
        }
      });
      router.post("/v1/pipelines/:name/runs", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        answerRun(res, await rerun(pipeline, RerunRequest.parse(req.body ?? {}), principalOf<Principal>(res), intake));
      });
      router.get("/v1/pipelines/:name/runs", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        assertWorkspaceAccess(principalOf<Principal>(res), workspaceOf(pipeline), "pipeline");
        res.json({ value: await runs.list(pipeline.name) });
      });
      router.get("/v1/pipelines/:name/runs/:runId", auth, async (req, res) => {
        const pipeline = await pipelineOf(req, res);
        assertWorkspaceAccess(principalOf<Principal>(res), workspaceOf(pipeline), "pipeline");
        const run = await runs.run(pipeline.name, routeParam(req, "runId"));
        if (run === undefined) throw new HttpError(404, "RunNotFound", `Run '${routeParam(req, "runId")}' was not found.`);
        res.json(run);
      });

      router.post("/v1/events", auth, async (req, res) => {
        const event = readDatasetAvailable(req.headers, req.body, now);
        answerRun(res, await acceptDatasetAvailable(event, principalOf<Principal>(res), intake));
      });

      // Event Grid cannot send an Authorization header to a plain webhook: the key may come as `?code=`.
      router.post("/v1/hooks/blob-created", async (req, res) => {
        const code = req.query["code"];
        const header = req.headers.authorization ?? (typeof code === "string" ? `Bearer ${code}` : undefined);
        const principal = await authenticateBearer(header, deps.verifyKey);
        res.json(await acceptBlobCreated(req.body, principal, intake));
      });
    },
    async start() {
      subscriptions.push(
        await deps.bus.subscribe({
          group: "ingestion",
          types: RUN_END_TYPES,
          concurrency: 4,
          // The run record is the inbox: an event applied twice changes nothing the second time.
          inbox: { seen: async () => false },
          handler: (event) => onRunProgress(event as AnyEvent, control),
        }),
        await deps.bus.subscribe({
          group: "ingestion-redrive",
          types: [EventTypes.RunRedriveRequested],
          handler: (event, context) => onRedriveRequested(event, context, control),
        }),
      );
      const relayed = await runs.relayAll();
      if (relayed > 0) deps.logger.info({ events: relayed }, "relayed DataArrived events left in outboxes");
      const interval = deps.scheduleIntervalMs ?? 60_000;
      timer = setInterval(() => {
        inFlight = (async () => {
          await tick();
          await runs.relayAll();
        })().catch((error: unknown) => deps.logger.error({ err: error }, "schedule tick failed"));
      }, interval);
      timer.unref();
    },
    async stop(graceMs = 10_000) {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([inFlight, new Promise((resolve) => (wait = setTimeout(resolve, graceMs)))]);
      clearTimeout(wait);
    },
  };
}
