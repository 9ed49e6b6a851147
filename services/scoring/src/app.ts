import { JobService, registerBesRoutes, runQueuedJob } from "@retrain/bes";
import { DEFAULT_READ_URL_LIFETIME_MS, type BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { assertWorkspaceAccess, authenticateBearer, HttpMetrics, SecretBox, type ApiKeyVerifier, type MetricsRegistry, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Router } from "express";
import { createArmApi } from "./handlers/arm.js";
import { registerSubscriptionJobRoutes, ScoringJobExecutor } from "./handlers/batch.js";
import { registerClassicRoutes } from "./handlers/classic.js";
import { createExecuteFastPath, type FastPath } from "./handlers/execute.js";
import { registerSwaggerRoutes } from "./handlers/swagger.js";
import { registerV1Routes } from "./handlers/v1.js";
import { ScoringHost } from "./host.js";
import { KeyVault } from "./key-vault.js";
import type { ModelRuntime } from "./model-runtime.js";
import { SCORING_PREFIX } from "./store.js";

/** What the scoring host is built from. */
export interface ScoringDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Workspace and admin keys (management APIs; ARM bearer tokens). */
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Key-encryption key of the API keys at rest (32 bytes). */
  readonly kek: Buffer;
  /** Base URL clients reach this host at; settable later with {@link Scoring.setPublicUrl}. */
  readonly publicUrl: string;
  /** The registry the HTTP app records into, so the fast path's requests land in the same metrics. */
  readonly registry: MetricsRegistry;
  /** How models are loaded and scored (main.ts passes the @retrain/ml runtime). */
  readonly runtime: ModelRuntime;
  /** Hosts a model or BES input may be fetched from (SSRF guard). Default none beyond the own store. */
  readonly allowedHosts?: readonly string[];
  /** Host of the own store's read URLs (allowed implicitly). */
  readonly ownHost?: string;
  /** Pause between two polls of the target documents. Default 500 ms. */
  readonly syncIntervalMs?: number;
  /** Batch scoring jobs run at once. Default 2. */
  readonly concurrency?: number;
  /** Largest model accepted. Default 512 MiB. */
  readonly modelMaxBytes?: number;
  /** Time allowed to download a model. Default 120 s. */
  readonly modelFetchTimeoutMs?: number;
  /** Lifetime of read URLs of model copies. Default 15 min. */
  readonly readUrlLifetimeMs?: number;
  /** Lifetime of the SAS in a finished batch job's `Results` (minted anew on every GET). Default 24 h. */
  readonly resultSasLifetimeMs?: number;
  /** Largest RRS request body. Default 4 MiB. */
  readonly bodyLimitBytes?: number;
  /** Web services per page of an ARM list. Default 100. */
  readonly armPageSize?: number;
  /** After this an ARM update counts as abandoned. Default: the model fetch timeout + 60 s. */
  readonly armOperationTimeoutMs?: number;
}

/** Options of {@link Scoring.registerRoutes}. */
export interface RegisterScoringRoutesOptions {
  /**
   * Register the BES routes (`{ApiLocation}/jobs`). Default true. An embedded host serving the
   * trainer too passes false and then registers `registerBesRoutes` once, with both hosts' `jobs`
   * and {@link Scoring.besVerifyKey}.
   */
  readonly besRoutes?: boolean;
}

/** The scoring host: its HTTP routes, the RRS fast path, and its background work. */
export interface Scoring {
  readonly host: ScoringHost;
  /** The BES of predictive web services (host "scoring"). */
  readonly jobs: JobService;
  /**
   * For an embedded host that registers `registerBesRoutes` itself (after `registerRoutes(router,
   * { besRoutes: false })`): workspace keys, plus endpoint keys. Which endpoint a key may open is
   * checked by a guard `registerRoutes` always installs in front of the jobs routes.
   */
  readonly besVerifyKey: ApiKeyVerifier<Principal>;
  /** Registers the management, ARM, /v1, swagger and (by default) BES routes on an express router. */
  registerRoutes(router: Router, options?: RegisterScoringRoutesOptions): void;
  /** node:http handler for RRS execute; returns false for every other request (hand it to express). */
  readonly fastPath: FastPath;
  setPublicUrl(url: string): void;
  /** Loads every target (so a restart serves at once), starts polling and the `scoring-jobs` consumer. */
  start(): Promise<void>;
  /** Stops polling and the consumer (in-flight jobs get `graceMs`) and waits for ARM updates. */
  stop(graceMs?: number): Promise<void>;
}

const SOURCE = "/retrain/scoring";

/** Builds the scoring host from its dependencies (no I/O until `start`). */
export function createScoring(deps: ScoringDeps): Scoring {
  const modelFetchTimeoutMs = deps.modelFetchTimeoutMs ?? 120_000;
  const locations = {
    store: deps.store,
    allowedHosts: deps.allowedHosts ?? [],
    ...(deps.ownHost !== undefined ? { ownHost: deps.ownHost } : {}),
  };
  const host = new ScoringHost({
    store: deps.store,
    runtime: deps.runtime,
    vault: new KeyVault(deps.kek),
    logger: deps.logger,
    publicUrl: deps.publicUrl,
    locations,
    modelMaxBytes: deps.modelMaxBytes ?? 512 * 1024 * 1024,
    modelFetchTimeoutMs,
    readUrlLifetimeMs: deps.readUrlLifetimeMs ?? DEFAULT_READ_URL_LIFETIME_MS,
    syncIntervalMs: deps.syncIntervalMs ?? 500,
  });
  const jobs = new JobService({
    store: deps.store,
    bus: deps.bus,
    executor: new ScoringJobExecutor(host),
    logger: deps.logger,
    prefix: SCORING_PREFIX,
    source: SOURCE,
    secrets: new SecretBox(deps.kek, "bes-jobs"),
    ...(deps.resultSasLifetimeMs !== undefined ? { resultSasLifetimeMs: deps.resultSasLifetimeMs } : {}),
    allowedHosts: locations.allowedHosts,
    ...(deps.ownHost !== undefined ? { ownHost: deps.ownHost } : {}),
  });
  const arm = createArmApi({
    host,
    verifyKey: deps.verifyKey,
    operationTimeoutMs: deps.armOperationTimeoutMs ?? modelFetchTimeoutMs + 60_000,
    pageSize: deps.armPageSize ?? 100,
  });
  const fastPath = createExecuteFastPath({
    host,
    metrics: new HttpMetrics(deps.registry),
    logger: deps.logger,
    bodyLimitBytes: deps.bodyLimitBytes ?? 4 * 1024 * 1024,
  });
  // BES accepts an endpoint's own keys besides the workspace's: the classic jobs API is called with them.
  const besVerifier: ApiKeyVerifier<Principal> = async (key) => (await deps.verifyKey(key)) ?? host.live.byKey(key)?.principal;
  const subscriptions: Subscription[] = [];

  return {
    host,
    jobs,
    fastPath,
    besVerifyKey: besVerifier,
    registerRoutes(router, options = {}) {
      registerSwaggerRoutes(router, host);
      // An endpoint key opens only its own endpoint's jobs (the BES routes accept any endpoint key
      // and check the workspace after this); requests for other hosts' services pass through.
      router.use("/workspaces/:workspace/services/:service/jobs", async (req, _res, next) => {
        const id = req.params["service"] ?? "";
        // A GUID not known here may be a target a replica just created: look before letting it pass.
        if (host.live.get(id) === undefined && /^[0-9a-f]{32}$/.test(id)) await host.sync.syncNow();
        const target = host.live.get(id);
        if (target === undefined) {
          next();
          return;
        }
        const principal = await authenticateBearer(req.headers.authorization, async (key) => (await deps.verifyKey(key)) ?? target.verify(key));
        assertWorkspaceAccess(principal, req.params["workspace"] ?? "", "web service");
        next();
      });
      if (options.besRoutes ?? true) registerBesRoutes(router, { jobs, verifyKey: besVerifier });
      registerSubscriptionJobRoutes(router, host, jobs);
      registerClassicRoutes(router, { host, verifyKey: deps.verifyKey });
      arm.register(router);
      registerV1Routes(router, { host, verifyKey: deps.verifyKey });
    },
    setPublicUrl(url) {
      host.publicUrl = url;
    },
    async start() {
      await host.sync.start();
      subscriptions.push(
        await deps.bus.subscribe({
          group: "scoring-jobs",
          types: [EventTypes.BatchJobQueued],
          concurrency: deps.concurrency ?? 2,
          maxAttempts: 5,
          // The job document is the inbox: a redelivered command re-reads it and does only what is left.
          inbox: { seen: async () => false },
          handler: (event, context) => runQueuedJob(event, context, jobs),
        }),
      );
    },
    async stop(graceMs = 10_000) {
      await host.sync.stop();
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
      await arm.drain();
    },
  };
}
