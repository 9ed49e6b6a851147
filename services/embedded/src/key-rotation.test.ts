// A key rotation reaches every service when each verifies keys itself, as distributed: here every
// service has its own keyring (own cache) and its own HTTP server, sharing only the blob store. The
// admin regenerates a key through one service; every other refuses the old key within its cache time.
import { randomBytes } from "node:crypto";
import { registerBesRoutes } from "@retrain/bes";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { createEvaluator, ScoringClient } from "@retrain/evaluator";
import { createIngestion } from "@retrain/ingestion";
import { createRegistry } from "@retrain/registry";
import { Keyring } from "@retrain/runtime";
import { createMlRuntime, createScoring } from "@retrain/scoring";
import { createHttpApp, MetricsRegistry, startHttpServer, type CreateHttpAppOptions } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createTrainer } from "@retrain/trainer";

type Router = Parameters<NonNullable<CreateHttpAppOptions["routes"]>>[0];

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 30_000);

const ADMIN = `admin-${randomBytes(24).toString("base64url")}`;
const KEY = `ws1-${randomBytes(24).toString("base64url")}`;
const kek = randomBytes(32);

interface ServiceUnderTest {
  readonly name: string;
  readonly url: string;
  /** A route of workspace ws1 that answers 2xx to a valid key. */
  readonly probe: string;
}

async function serve(name: string, store: FileSystemBlobStore, probe: string, routes: (router: Router, keyring: Keyring) => void): Promise<ServiceUnderTest> {
  // Each service opens the keyring itself, as each process's main does.
  const { keyring } = await Keyring.open({ store, kek, adminKey: ADMIN, workspaces: [{ id: "ws1", keys: { primary: KEY } }], logger: silentLogger(), cacheMs: 100 });
  const { app } = createHttpApp({
    serviceName: name,
    logger: silentLogger(),
    routes: (router) => {
      keyring.registerRoutes(router);
      routes(router, keyring);
    },
  });
  const server = await startHttpServer(app, { port: 0, logger: silentLogger() });
  cleanup.add(() => server.close(0));
  return { name, url: server.url, probe };
}

async function status(service: ServiceUnderTest, key: string): Promise<number> {
  const response = await fetch(`${service.url}${service.probe}`, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

describe("key rotation across services that each verify keys", () => {
  it("old key refused and new key accepted by the trainer, BES, scoring, ingestion, evaluator and registry", async () => {
    const dir = await tempDir("retrain-rotation-");
    cleanup.add(() => dir.remove());
    const store = new FileSystemBlobStore({ root: dir.path });
    const bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    const logger = silentLogger();

    const services = [
      await serve("trainer", store, "/v1/workspaces/ws1/training-services", (router, keyring) =>
        createTrainer({ store, bus, logger, verifyKey: keyring.verify, container: "retrain", kek }).registerRoutes(router),
      ),
      await serve("bes", store, "/workspaces/ws1/services/none/jobs?api-version=2.0", (router, keyring) => {
        const trainer = createTrainer({ store, bus, logger, verifyKey: keyring.verify, container: "retrain", kek });
        registerBesRoutes(router, { jobs: trainer.jobs, verifyKey: keyring.verify });
      }),
      await serve("scoring", store, "/workspaces/ws1/webservices", (router, keyring) =>
        createScoring({ store, bus, logger, verifyKey: keyring.verify, kek, publicUrl: "http://127.0.0.1", registry: new MetricsRegistry(), runtime: createMlRuntime() }).registerRoutes(router),
      ),
      await serve("ingestion", store, "/v1/pipelines", (router, keyring) =>
        createIngestion({ store, bus, logger, verifyKey: keyring.verify, container: "retrain" }).registerRoutes(router),
      ),
      await serve("evaluator", store, "/v1/approvals", (router, keyring) =>
        createEvaluator({ store, bus, logger, verifyKey: keyring.verify, champions: new ScoringClient({ baseUrl: "http://127.0.0.1:9", apiKey: ADMIN, timeoutMs: 1_000 }) }).registerRoutes(router),
      ),
      await serve("registry", store, "/v1/runs", (router, keyring) => createRegistry({ store, bus, logger, verifyKey: keyring.verify }).registerRoutes(router)),
    ];
    // The BES probe names a service that does not exist: 404 means "authenticated, nothing there".
    const accepted = (code: number) => code !== 401 && code !== 403 && code < 500;
    for (const service of services) expect({ service: service.name, ok: accepted(await status(service, KEY)) }).toEqual({ service: service.name, ok: true });

    const via = services[0] as ServiceUnderTest;
    const forbidden = await fetch(`${via.url}/v1/workspaces/ws1/keys/regenerate`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: '{"key":"primary"}' });
    expect(forbidden.status).toBe(403);
    const rotated = await fetch(`${via.url}/v1/workspaces/ws1/keys/regenerate`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: '{"key":"primary"}' });
    expect(rotated.status).toBe(200);
    const fresh = ((await rotated.json()) as { key: string }).key;

    for (const service of services) {
      await waitFor(async () => (await status(service, KEY)) === 401, { timeoutMs: 5_000, description: `${service.name} refusing the old key` });
      expect({ service: service.name, ok: accepted(await status(service, fresh)) }).toEqual({ service: service.name, ok: true });
    }
  }, 60_000);
});
