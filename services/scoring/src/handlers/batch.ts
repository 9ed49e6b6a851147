// Batch scoring (BES) on predictive web services: the scoring host's JobExecutor for @retrain/bes.
import { BatchExecutionRequest, JobFailure, type BatchServiceSpec, type JobContext, type JobExecutor, type JobOutcome, type JobService } from "@retrain/bes";
import type { JobDocument } from "@retrain/bes";
import { HttpError, sendJson } from "@retrain/service-kit";
import type { Request, Router } from "express";
import type { AnyEvent } from "@retrain/contracts";
import type { ScoringHost } from "../host.js";
import type { LiveTarget } from "../live.js";
import { ScoreInputError } from "../model-runtime.js";
import { INPUT_NAME, OUTPUT_NAME } from "../wire/rrs.js";
import { param } from "./common.js";
import { authenticateForTarget, findTarget } from "./execute.js";

const GUID = /^[0-9a-f]{32}$/;

/**
 * The BES "workspace" of a new web service's jobs: new web services live in a subscription, and
 * their jobs are kept apart from every workspace's under this name.
 */
export function subscriptionScope(subscription: string): string {
  return `subscription-${subscription}`;
}

/** What a scoring job records besides its output. */
export interface ScoringJobSummary {
  readonly modelId: string;
  readonly revision: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  [key: string]: unknown;
}

/**
 * Runs BES jobs of classic endpoints (`{ApiLocation}/jobs`): reads `input1` (a CSV with a header
 * row), scores it with the model the endpoint serves when the job starts, and writes `output1`: the
 * input rows with `Scored Labels` (and `Scored Probabilities`) appended. Scoring jobs announce nothing.
 */
export class ScoringJobExecutor implements JobExecutor {
  readonly host = "scoring" as const;

  constructor(private readonly scoring: ScoringHost) {}

  async #target(id: string): Promise<LiveTarget | undefined> {
    // Only GUIDs can be ours; the trainer's service names never trigger a sync here.
    if (!GUID.test(id)) return undefined;
    let target = this.scoring.live.get(id);
    if (target === undefined) {
      await this.scoring.sync.syncNow();
      target = this.scoring.live.get(id);
    }
    return target;
  }

  async describe(workspace: string, service: string): Promise<BatchServiceSpec | undefined> {
    const target = await this.#target(service);
    if (target === undefined || target.doc.training) return undefined;
    const scope = target.doc.kind === "classic" ? target.doc.workspace : subscriptionScope(target.doc.arm?.subscription ?? "");
    if (scope !== workspace) return undefined;
    return { inputs: [INPUT_NAME], outputs: { [OUTPUT_NAME]: "dataset" } };
  }

  async run(job: JobDocument, context: JobContext): Promise<JobOutcome> {
    const target = await this.#target(job.service);
    if (target === undefined) throw new JobFailure("WebServiceNotFound", `Web service '${job.service}' no longer exists.`);
    const serving = target.serving;
    // Not a failure of the input: thrown as a plain error, so the bus retries once the model is loaded.
    if (serving === undefined) throw new Error(`endpoint ${job.service} has no model loaded yet`);
    const chunks: Buffer[] = [];
    for await (const chunk of await context.openInput(INPUT_NAME)) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      context.heartbeat();
    }
    const input = Buffer.concat(chunks);
    let output: Buffer;
    try {
      output = await serving.model.scoreCsv(input, context.signal);
    } catch (error) {
      if (error instanceof ScoreInputError) throw new JobFailure(error.code, error.message, error.column, { cause: error });
      throw error;
    }
    const summary: ScoringJobSummary = { modelId: serving.state.modelId, revision: serving.state.revision, bytesIn: input.byteLength, bytesOut: output.byteLength };
    return { outputs: { [OUTPUT_NAME]: { body: output, contentType: "text/csv" } }, summary };
  }

  eventsFor(_job: JobDocument): AnyEvent[] {
    return [];
  }
}

/**
 * The BES routes of new web services, `/subscriptions/{sub}/services/{id}/jobs…` (the bes package's
 * routes serve the classic `/workspaces/…` form only). Authorized with the web service's own keys.
 */
export function registerSubscriptionJobRoutes(router: Router, host: ScoringHost, jobs: JobService): void {
  const BASE = "/subscriptions/:subscription/services/:service/jobs";
  const scope = async (req: Request): Promise<{ workspace: string; service: string }> => {
    const version = req.query["api-version"];
    if (version !== undefined && version !== "2.0") throw new HttpError(400, "BadArgument", `Unsupported api-version '${String(version)}'; this service implements 2.0.`);
    const subscription = param(req, "subscription");
    const target = await findTarget(host, "new", subscription, param(req, "service"));
    await authenticateForTarget(target, req.headers.authorization);
    return { workspace: subscriptionScope(subscription), service: target.id };
  };
  router.post(BASE, async (req, res) => {
    const { workspace, service } = await scope(req);
    sendJson(res, 200, await jobs.submit(workspace, service, BatchExecutionRequest.parse(req.body ?? {})));
  });
  router.post(`${BASE}/:job/start`, async (req, res) => {
    const { workspace, service } = await scope(req);
    await jobs.start(workspace, service, param(req, "job"));
    res.status(204).end();
  });
  router.get(`${BASE}/:job`, async (req, res) => {
    const { workspace, service } = await scope(req);
    sendJson(res, 200, await jobs.status(await jobs.get(workspace, service, param(req, "job"))));
  });
  router.delete(`${BASE}/:job`, async (req, res) => {
    const { workspace, service } = await scope(req);
    await jobs.cancel(workspace, service, param(req, "job"));
    res.status(204).end();
  });
  router.get(BASE, async (req, res) => {
    const { workspace, service } = await scope(req);
    const out = [];
    for (const job of await jobs.jobs.list(workspace, service)) out.push({ Id: job.id, CreatedAt: job.createdAt, ...(await jobs.status(job)) });
    sendJson(res, 200, out);
  });
}
