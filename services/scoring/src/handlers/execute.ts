// RRS execute: the hot path. Served by a bare node:http handler in front of the express app, but
// through service-kit's single implementations of auth (authenticateBearer), body reading
// (readJsonBodyThen, the callback form of readJsonBody), the error body (writeError) and metrics + tracing
// (observeHttpRequest), so both transports answer the same faults byte for byte.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  authenticateBearer,
  authenticateBearerSync,
  HttpError,
  observeHttpRequest,
  readJsonBodyThen,
  sendJsonText,
  writeError,
  type HttpMetrics,
} from "@retrain/service-kit";
import { runWithTraceContext, type Logger, type TraceContext } from "@retrain/telemetry";
import { executionError } from "../errors.js";
import type { ScoringHost } from "../host.js";
import type { LiveTarget, Serving } from "../live.js";
import { ScoreInputError } from "../model-runtime.js";
import { RrsMetrics } from "../rrs-metrics.js";
import { executeResultJson, parseExecuteBody, type ExecuteFormat } from "../wire/rrs.js";

/** What the execute handler needs. */
export interface ExecuteDeps {
  readonly host: ScoringHost;
  readonly metrics: HttpMetrics;
  readonly logger: Logger;
  /** Largest accepted request body. */
  readonly bodyLimitBytes: number;
}

/** A node:http handler that serves its own requests and returns false for everything else. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The route templates the metrics record (never raw paths). */
export const EXECUTE_ROUTES = {
  classic: "/workspaces/:workspace/services/:service/execute",
  new: "/subscriptions/:subscription/services/:service/execute",
} as const;

interface ExecuteMatch {
  readonly kind: "classic" | "new";
  /** Workspace (classic) or subscription (new). */
  readonly scope: string;
  readonly id: string;
  readonly query: string;
}

/** Matches `/workspaces/{ws}/services/{id}/execute` and `/subscriptions/{sub}/services/{id}/execute` without a URL parser. */
export function matchExecute(url: string): ExecuteMatch | undefined {
  // /workspaces/{ws}/services/{id}/execute or /subscriptions/{sub}/services/{id}/execute, scanned by
  // slash positions: no array of segments per request.
  const q = url.indexOf("?");
  const end = q < 0 ? url.length : q;
  let kind: "classic" | "new";
  let at: number;
  if (url.startsWith("/workspaces/")) {
    kind = "classic";
    at = 12;
  } else if (url.startsWith("/subscriptions/")) {
    kind = "new";
    at = 15;
  } else return undefined;
  const afterScope = url.indexOf("/", at);
  if (afterScope <= at || afterScope >= end || !url.startsWith("/services/", afterScope)) return undefined;
  const idAt = afterScope + 10;
  const afterId = url.indexOf("/", idAt);
  if (afterId <= idAt || afterId >= end || end - afterId !== 8 || url.slice(afterId + 1, end).toLowerCase() !== "execute") return undefined;
  return { kind, scope: url.slice(at, afterScope), id: url.slice(idAt, afterId), query: q < 0 ? "" : url.slice(q + 1) };
}

/** Reads `format`, `details` and `api-version` from a query string (a hand scan: this runs per request). */
export function formatOf(query: string): ExecuteFormat & { apiVersion: string | undefined } {
  let swagger = false;
  let details = false;
  let apiVersion: string | undefined;
  if (query !== "") {
    for (const pair of query.split("&")) {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const raw = eq < 0 ? "" : pair.slice(eq + 1);
      if (name !== "format" && name !== "details" && name !== "api-version") continue;
      let value: string;
      try {
        value = decodeURIComponent(raw.replace(/\+/g, " "));
      } catch {
        value = raw;
      }
      if (name === "format") swagger = value.toLowerCase() === "swagger";
      else if (name === "details") details = value.toLowerCase() === "true";
      else apiVersion = value;
    }
  }
  return { swagger, details, apiVersion };
}

// Clients repeat one query string (e.g. "api-version=2.0&details=true"): the last one read is kept.
let lastQuery = "";
let lastFormat: ReturnType<typeof formatOf> = formatOf("");

/** {@link formatOf}, remembered for the last query string (the result is never modified). */
function formatOfQuery(query: string): ReturnType<typeof formatOf> {
  if (query !== lastQuery) {
    lastFormat = formatOf(query);
    lastQuery = query;
  }
  return lastFormat;
}

/** Creates the fast path: POST execute on a classic endpoint or a new web service. */
export function createExecuteFastPath(deps: ExecuteDeps): FastPath {
  const rrs = new RrsMetrics(deps.metrics.registry);
  // Built once per kind, not per request.
  const observeOptions = {
    classic: { metrics: deps.metrics, logger: deps.logger, route: () => EXECUTE_ROUTES.classic },
    new: { metrics: deps.metrics, logger: deps.logger, route: () => EXECUTE_ROUTES.new },
  } as const;
  return (req, res) => {
    if (req.method !== "POST") return false;
    const match = matchExecute(req.url ?? "/");
    if (match === undefined) return false;
    observeHttpRequest(req, res, observeOptions[match.kind], (traceContext) => execute(req, res, match, deps, rrs, traceContext));
    return true;
  };
}

function matches(target: LiveTarget | undefined, kind: "classic" | "new", scope: string): target is LiveTarget {
  return target !== undefined && target.doc.kind === kind && (kind === "classic" ? target.doc.workspace === scope : target.doc.arm?.subscription === scope);
}

/** Whether a target can answer now: it serves a model, or its document names none (nothing to wait for). */
function ready(target: LiveTarget): boolean {
  return target.serving !== undefined || target.doc.model === undefined;
}

/**
 * The live target an execution URL names, after one sync when it is not known here (created on a
 * replica), and once the model its document names has loaded (a sync that found it a moment ago may
 * still be loading it: the call waits for that instead of answering 503).
 */
export async function findTarget(host: ScoringHost, kind: "classic" | "new", scope: string, id: string): Promise<LiveTarget> {
  let target = host.live.get(id);
  if (!matches(target, kind, scope) && /^[0-9a-f]{32}$/.test(id)) {
    await host.sync.syncNow();
    target = host.live.get(id);
  }
  if (!matches(target, kind, scope)) {
    throw executionError(404, "WebServiceNotFound", `Web service '${id}' was not found in ${kind === "classic" ? "workspace" : "subscription"} '${scope}'.`);
  }
  if (!ready(target)) await host.live.settled(target.blob);
  return target;
}

/** service-kit's 401 as the classic execution error (`Unauthorized` / `ScoreRequestUnauthorized`). */
function scoreUnauthorized(error: unknown): unknown {
  if (error instanceof HttpError && error.status === 401) {
    return executionError(401, "ScoreRequestUnauthorized", error.message, { ...(error.headers !== undefined ? { headers: { ...error.headers } } : {}) });
  }
  return error;
}

/** Authenticates with the target's primary or secondary key; a failure is the classic `ScoreRequestUnauthorized`. */
export async function authenticateForTarget(target: LiveTarget, authorization: string | undefined): Promise<void> {
  try {
    await authenticateBearer(authorization, target.verify);
  } catch (error) {
    throw scoreUnauthorized(error);
  }
}

/**
 * One RRS call. Synchronous up to reading the body, then finished from the body's callback: the
 * common case (a known target, a key seen before) allocates no promise. Only a target created on a
 * replica and not yet known here costs a sync, and then a promise.
 */
function execute(req: IncomingMessage, res: ServerResponse, match: ExecuteMatch, deps: ExecuteDeps, rrs: RrsMetrics, traceContext: TraceContext | undefined): Promise<void> | undefined {
  const format = formatOfQuery(match.query);
  if (format.apiVersion !== undefined && format.apiVersion !== "2.0") {
    throw new HttpError(400, "BadArgument", `Unsupported api-version '${format.apiVersion}'; this service implements 2.0.`);
  }
  const known = deps.host.live.get(match.id);
  if (matches(known, match.kind, match.scope) && ready(known)) {
    answer(req, res, known, format, deps, rrs, traceContext);
    return undefined;
  }
  return findTarget(deps.host, match.kind, match.scope, match.id).then((target) => answer(req, res, target, format, deps, rrs, traceContext));
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  target: LiveTarget,
  format: ReturnType<typeof formatOf>,
  deps: ExecuteDeps,
  rrs: RrsMetrics,
  traceContext: TraceContext | undefined,
): void {
  // Inline rather than through authenticateForTarget: one async layer less per request.
  try {
    authenticateBearerSync(req.headers.authorization, target.verify);
  } catch (error) {
    throw scoreUnauthorized(error);
  }
  if (target.doc.training) {
    throw executionError(400, "InvalidOperation", "This is a training web service: call it through the Batch Execution Service (RRS cannot be used for producing trained models).");
  }
  if (target.inFlight >= target.doc.maxConcurrentCalls) {
    throw executionError(503, "TooManyConcurrentRequests", `The endpoint allows ${target.doc.maxConcurrentCalls} concurrent requests; retry later or raise MaxConcurrentCalls.`, {
      headers: { "retry-after": "1" },
    });
  }
  // The model this request started with answers it, even if another is swapped in meanwhile.
  const serving: Serving | undefined = target.serving;
  if (serving === undefined) throw executionError(503, "ModelNotReady", "The web service has no model loaded yet; retry shortly.", { headers: { "retry-after": "1" } });
  // In flight from here until the answer is handed to the socket (or the request fails).
  target.inFlight++;
  // Series bound once per served model: recording below is a few additions, nothing allocated.
  const series = rrs.seriesFor(target, serving);
  const started = performance.now();
  series.requests.inc();
  const finish = (error: HttpError | undefined, body: unknown): void => {
    try {
      if (error !== undefined) throw error;
      const input = parseExecuteBody(body, target.doc.inputSchema);
      let table;
      try {
        table = serving.model.scoreRows(input.columnNames, input.rows);
      } catch (scoreError) {
        if (scoreError instanceof ScoreInputError) throw executionError(400, scoreError.code, scoreError.message, { cause: scoreError });
        throw scoreError;
      }
      sendJsonText(res, 200, executeResultJson(table, { swagger: format.swagger || input.rowObjects, details: format.details }), ["x-retrain-model", serving.label]);
    } catch (failure) {
      series.error(failure instanceof HttpError ? (failure.details?.[0]?.code ?? failure.code) : "InternalError");
      writeError(res, failure, deps.logger);
    } finally {
      target.inFlight--;
      series.duration.observe((performance.now() - started) / 1000);
    }
  };
  // The body's callback runs from stream events: it re-enters the request's trace, so its logs carry the ids.
  readJsonBodyThen(req, { limitBytes: deps.bodyLimitBytes }, traceContext === undefined ? finish : (error, body) => runWithTraceContext(traceContext, () => finish(error, body)));
}
