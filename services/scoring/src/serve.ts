import { createBlobUrlHandler, type BlobStore } from "@retrain/blob";
import { createHttpApp, startHttpServer, type MetricsRegistry, type RunningServer } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Scoring } from "./app.js";

/** Options for {@link serveScoring}. */
export interface ServeScoringOptions {
  readonly logger: Logger;
  readonly registry: MetricsRegistry;
  readonly port: number;
  readonly host?: string;
  /** Serve the filesystem store's signed read URLs (`/_blobs/…`) from this process too. */
  readonly blobUrls?: { readonly store: BlobStore; readonly secret: string };
  /** Once aborted, /readyz answers 503. */
  readonly shutdownSignal?: AbortSignal;
  /** More routes on the same app, in front of the scoring host's (e.g. the key-rotation routes). */
  readonly routes?: (router: Parameters<NonNullable<Parameters<typeof createHttpApp>[0]["routes"]>>[0]) => void;
}

/**
 * The scoring host on one port: RRS execute on the node:http fast path first, then (optionally) the
 * store's read URLs, then the express app with every other route. The one composition its process,
 * and every test that needs a scoring host over HTTP, use.
 */
export async function serveScoring(scoring: Scoring, options: ServeScoringOptions): Promise<RunningServer> {
  const { app } = createHttpApp({
    serviceName: "scoring",
    logger: options.logger,
    registry: options.registry,
    routes: (router) => {
      options.routes?.(router);
      scoring.registerRoutes(router);
    },
    ...(options.shutdownSignal !== undefined ? { shutdownSignal: options.shutdownSignal } : {}),
  });
  const blobUrls = options.blobUrls !== undefined ? createBlobUrlHandler(options.blobUrls.store, { secret: options.blobUrls.secret }) : undefined;
  return startHttpServer(
    (req, res) => {
      if (scoring.fastPath(req, res)) return;
      if (blobUrls?.(req, res) === true) return;
      app(req, res);
    },
    { port: options.port, ...(options.host !== undefined ? { host: options.host } : {}), logger: options.logger },
  );
}
