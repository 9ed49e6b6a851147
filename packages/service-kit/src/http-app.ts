import express from "express";
import type { ErrorRequestHandler, Express, Request, RequestHandler, Router } from "express";
import type { Logger } from "@retrain/telemetry";
import { HttpError } from "./errors.js";
import { isServerClosing } from "./http-server.js";
import { DEFAULT_BODY_LIMIT_BYTES, hasRequestBody, isJsonContentType, readJsonBody } from "./json-body.js";
import { HttpMetrics, MetricsRegistry } from "./metrics.js";
import { observeHttpRequest } from "./observe-request.js";
import { sendJson, writeError } from "./respond.js";

/** Options for {@link createHttpApp}. */
export interface CreateHttpAppOptions {
  /** Names the service in logs (and in the default metrics registry's `service` label). */
  serviceName: string;
  logger: Logger;
  /** Registers the service's routes, in front of the 404 fallback and the error handler. Default none. */
  routes?: (router: Router) => void;
  /** Where metrics are registered. Default: a new registry with Node's process metrics. */
  registry?: MetricsRegistry;
  /** Largest accepted JSON body. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Extra readiness condition for /readyz (e.g. "the bus is connected"); a throw means not ready. Default always ready. */
  readiness?: () => boolean | Promise<boolean>;
  /** Once aborted (shutdown has begun), /readyz answers 503. Default none. */
  shutdownSignal?: AbortSignal;
}

/** What {@link createHttpApp} builds. */
export interface HttpApp {
  /** The complete app, to hand to {@link startHttpServer}. */
  app: Express;
  /** The HTTP metrics, to share with a node:http hot path served beside the app. */
  metrics: HttpMetrics;
  registry: MetricsRegistry;
}

/** The route label of requests no route matched (keeps the metric's cardinality bounded). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * An express 5 app with what every Retrain service shares: a server span, metrics and a debug log
 * line per request; `GET /healthz`, `GET /readyz`, `GET /metrics`; JSON bodies parsed by
 * {@link readJsonBody} (other content types are left unread for the route); then the service's
 * routes; a 404 `NotFound` fallback; and an error handler answering through {@link writeError}.
 * Route handlers may be async and throw an HttpError: express 5 forwards rejections.
 */
export function createHttpApp(options: CreateHttpAppOptions): HttpApp {
  const { logger } = options;
  const registry = options.registry ?? new MetricsRegistry({ defaultLabels: { service: options.serviceName } });
  const metrics = new HttpMetrics(registry);
  const limitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  const app = express();
  app.disable("x-powered-by");

  const observe: RequestHandler = (req, res, next) => {
    observeHttpRequest(req, res, { metrics, logger, route: () => routeOf(req) }, () => next());
  };
  app.use(observe);

  app.get("/healthz", (_req, res) => sendJson(res, 200, { status: "ok" }));
  app.get("/readyz", async (req, res) => {
    const checkPassed = await isReady(options.readiness, logger);
    // Looked at after the (possibly slow) check, so a shutdown begun meanwhile is reported.
    const ready = checkPassed && options.shutdownSignal?.aborted !== true && !isServerClosing(req);
    sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready" });
  });
  app.get("/metrics", async (_req, res) => {
    const text = await registry.metrics();
    res.status(200).type(registry.contentType).send(text);
  });

  const jsonBody: RequestHandler = async (req, _res, next) => {
    if (hasRequestBody(req) && isJsonContentType(req.headers["content-type"])) {
      req.body = await readJsonBody(req, { limitBytes });
    }
    next();
  };
  app.use(jsonBody);

  const router = express.Router();
  options.routes?.(router);
  app.use(router);

  app.use((req: Request) => {
    throw new HttpError(404, "NotFound", `No resource at ${req.method} ${req.path}.`);
  });
  const errorHandler: ErrorRequestHandler = (error: unknown, _req, res, _next) => writeError(res, error, logger);
  app.use(errorHandler);

  return { app, metrics, registry };
}

async function isReady(readiness: (() => boolean | Promise<boolean>) | undefined, logger: Logger): Promise<boolean> {
  if (readiness === undefined) return true;
  try {
    return await readiness();
  } catch (error) {
    logger.warn({ err: error }, "readiness check failed");
    return false;
  }
}

function routeOf(req: Request): string {
  const route: unknown = req.route;
  if (typeof route === "object" && route !== null && "path" in route && typeof route.path === "string") {
    return `${req.baseUrl}${route.path}`;
  }
  return UNMATCHED_ROUTE;
}
