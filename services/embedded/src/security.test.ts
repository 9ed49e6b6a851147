// Security, proven over HTTP on the embedded default (every API on one port): per surface, no key and
// a wrong key → 401, workspace A's key on workspace B's resources → 404 answered exactly like a
// resource that does not exist, a workspace key on admin operations → 403, the admin key → ok; key
// rotation; read URLs short-lived, single-blob and read-only; model locations outside the allow-list
// refused with a code; and no key in any log line nor in clear anywhere in the data directory.
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ulid } from "@retrain/contracts";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createLogger } from "@retrain/telemetry";
import { startEmbedded, type Embedded } from "./embedded.js";

const cleanup = new Cleanup();
const logLines: string[] = [];
let retrain: Embedded;
let dataDir = "";
let ADMIN = "";
const KA = `ka-${randomBytes(24).toString("base64url")}`;
const KA2 = `ka2-${randomBytes(24).toString("base64url")}`;
let KB = `kb-${randomBytes(24).toString("base64url")}`;
const WRONG = `wrong-${randomBytes(24).toString("base64url")}`;
/** Every secret the run handled: none may appear in a log line or, in clear, in the data directory. */
const secrets = new Set<string>([KA, KA2, KB, WRONG]);

type Answer = { status: number; text: string; json: unknown; headers: Headers };
type Ref = { BaseLocation: string; RelativeLocation: string; SasBlobToken: string };

async function call(method: string, path: string, options: { key?: string | undefined; body?: unknown; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.key !== undefined) headers["authorization"] = `Bearer ${options.key}`;
  if (options.body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const response = await fetch(`${retrain.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, headers: response.headers };
}

async function ok(method: string, path: string, key: string, body?: unknown, contentType?: string): Promise<Answer> {
  const answer = await call(method, path, { key, body, ...(contentType !== undefined ? { contentType } : {}) });
  if (answer.status >= 400) throw new Error(`${method} ${path} → ${answer.status}: ${answer.text}`);
  return answer;
}

function errorCode(answer: Answer): string | undefined {
  const body = answer.json as { error?: { code?: string } } | undefined;
  return body?.error?.code;
}

function csv(rows: number, seed: number): string {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const lines = ["x1,x2,label"];
  for (let i = 0; i < rows; i++) {
    const x1 = next() * 10;
    const x2 = next() * 10;
    lines.push(`${x1.toFixed(3)},${x2.toFixed(3)},${x1 + x2 + next() * 2 > 11 ? 1 : 0}`);
  }
  return `${lines.join("\n")}\n`;
}

const ARM_VERSION = "api-version=2017-01-01";
const armPath = (name: string) => `/subscriptions/sub-b/resourceGroups/rg-b/providers/Microsoft.MachineLearning/webServices/${name}`;
let jobId = "";
let webServiceId = "";
let runId = "";
let model0: Ref;

beforeAll(async () => {
  const dir = await tempDir("retrain-security-");
  cleanup.add(() => dir.remove());
  dataDir = dir.path;
  const logger = createLogger({ name: "retrain", level: "trace", destination: { write: (line) => void logLines.push(line) } });
  retrain = await startEmbedded({
    dataDir,
    port: 0,
    logger,
    keyCacheMs: 50,
    workspaces: [
      { id: "ws-a", keys: { primary: KA, secondary: KA2 } },
      { id: "ws-b", keys: { primary: KB } },
    ],
  });
  cleanup.add(() => retrain.stop(1_000));
  expect(retrain.adminKeyIsNew).toBe(true);
  ADMIN = retrain.adminKey;
  secrets.add(ADMIN);

  // Workspace B: a training web service, a finished BES job, a classic web service with endpoints,
  // a new (ARM) web service, and a pipeline whose run waits for manual approval.
  await ok("PUT", "/v1/workspaces/ws-b/training-services/svc-b", KB, { learner: "Two-Class Logistic Regression", label: "label", split: { fraction: 0.25, seed: 7 } });
  await retrain.store.put("uploads/b.csv", Buffer.from(csv(600, 1)), { contentType: "text/csv" });
  const input = new URL(await retrain.store.readUrl("uploads/b.csv", 600_000));
  secrets.add(input.searchParams.get("sig") ?? "");
  const bes = "/workspaces/ws-b/services/svc-b/jobs";
  jobId = (await ok("POST", `${bes}?api-version=2.0`, KB, { Inputs: { input1: { BaseLocation: `${input.origin}/_blobs/`, RelativeLocation: "uploads/b.csv", SasBlobToken: input.search } } })).json as string;
  await ok("POST", `${bes}/${jobId}/start?api-version=2.0`, KB);
  const finished = await waitFor(
    async () => {
      const status = (await ok("GET", `${bes}/${jobId}?api-version=2.0`, KB)).json as { StatusCode: string; Results: Record<string, Ref> | null };
      return status.StatusCode === "Finished" ? status : undefined;
    },
    { timeoutMs: 60_000, description: "the BES job" },
  );
  model0 = finished.Results?.["output1"] as Ref;
  const published = (await ok("POST", "/v1/workspaces/ws-b/webservices", KB, { name: "pred-b", resourceName: "B [trained model]", model: { location: model0 } })).json as {
    webService: { Id: string };
    defaultEndpoint: { PrimaryKey: string; SecondaryKey: string };
  };
  webServiceId = published.webService.Id;
  secrets.add(published.defaultEndpoint.PrimaryKey).add(published.defaultEndpoint.SecondaryKey);
  for (const name of ["ep1", "epdel"]) {
    const endpoint = (await ok("PUT", `/workspaces/ws-b/webservices/${webServiceId}/endpoints/${name}`, KB, { ThrottleLevel: "High" })).json as { PrimaryKey: string; SecondaryKey: string };
    secrets.add(endpoint.PrimaryKey).add(endpoint.SecondaryKey);
  }
  const arm = (await ok("POST", "/v1/workspaces/ws-b/webservices", KB, { kind: "new", name: "arm-b", subscription: "sub-b", resourceGroup: "rg-b", model: { location: model0 } })).json as {
    keys: { primary: string; secondary: string };
  };
  secrets.add(arm.keys.primary).add(arm.keys.secondary);
  await ok("PUT", "/v1/pipelines/p-b", KB, {
    trainingWebService: { workspace: "ws-b", service: "svc-b" },
    evaluation: { mode: "manual", primaryMetric: "AUC" },
    targets: [{ kind: "classic", workspace: "ws-b", webService: "pred-b", endpoint: "ep1", resourceName: "B [trained model]" }],
  });
  runId = ((await ok("PUT", "/v1/pipelines/p-b/datasets", KB, csv(600, 2), "text/csv")).json as { runId: string }).runId;
  await waitFor(
    async () => {
      const evaluation = await call("GET", `/v1/runs/${runId}/evaluation`, { key: KB });
      const registry = await call("GET", `/v1/runs/${runId}`, { key: KB });
      return evaluation.status === 200 && (evaluation.json as { approval: { state: string } | null }).approval?.state === "pending" && registry.status === 200;
    },
    { timeoutMs: 60_000, description: "the run waiting for approval, seen by the evaluator and the registry" },
  );
}, 120_000);
afterAll(() => cleanup.run(), 30_000);

/** A route of workspace B, and the same route for a resource that does not exist (to compare answers). */
interface Probe {
  readonly surface: string;
  readonly method: string;
  readonly path: () => string;
  readonly missing: () => string;
  readonly body?: unknown;
}

const probes: Probe[] = [
  { surface: "trainer", method: "GET", path: () => "/v1/workspaces/ws-b/training-services/svc-b", missing: () => "/v1/workspaces/ws-b/training-services/svc-none" },
  { surface: "BES status", method: "GET", path: () => `/workspaces/ws-b/services/svc-b/jobs/${jobId}?api-version=2.0`, missing: () => `/workspaces/ws-b/services/svc-b/jobs/${"0".repeat(32)}?api-version=2.0` },
  { surface: "BES list", method: "GET", path: () => "/workspaces/ws-b/services/svc-b/jobs?api-version=2.0", missing: () => "/workspaces/ws-b/services/svc-none/jobs?api-version=2.0" },
  { surface: "BES submit", method: "POST", path: () => "/workspaces/ws-b/services/svc-b/jobs?api-version=2.0", missing: () => "/workspaces/ws-b/services/svc-none/jobs?api-version=2.0", body: { Inputs: {} } },
  { surface: "classic web service", method: "GET", path: () => `/workspaces/ws-b/webservices/${webServiceId}`, missing: () => "/workspaces/ws-b/webservices/none" },
  { surface: "classic endpoint", method: "GET", path: () => `/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1`, missing: () => `/workspaces/ws-b/webservices/${webServiceId}/endpoints/none` },
  {
    surface: "classic PATCH",
    method: "PATCH",
    path: () => `/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1`,
    missing: () => `/workspaces/ws-b/webservices/${webServiceId}/endpoints/none`,
    body: { Description: "changed" },
  },
  { surface: "classic DELETE", method: "DELETE", path: () => `/workspaces/ws-b/webservices/${webServiceId}`, missing: () => "/workspaces/ws-b/webservices/none" },
  { surface: "ARM", method: "GET", path: () => `${armPath("arm-b")}?${ARM_VERSION}`, missing: () => `${armPath("arm-none")}?${ARM_VERSION}` },
  { surface: "ARM listKeys", method: "POST", path: () => `${armPath("arm-b")}/listKeys?${ARM_VERSION}`, missing: () => `${armPath("arm-none")}/listKeys?${ARM_VERSION}` },
  {
    surface: "scoring /v1 model",
    method: "GET",
    path: () => `/v1/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1/model`,
    missing: () => `/v1/workspaces/ws-b/webservices/${webServiceId}/endpoints/none/model`,
  },
  { surface: "ingestion pipeline", method: "GET", path: () => "/v1/pipelines/p-b", missing: () => "/v1/pipelines/p-none" },
  { surface: "ingestion runs", method: "GET", path: () => "/v1/pipelines/p-b/runs", missing: () => "/v1/pipelines/p-none/runs" },
  { surface: "ingestion upload", method: "PUT", path: () => "/v1/pipelines/p-b/datasets", missing: () => "/v1/pipelines/p-none/datasets", body: "x1,x2,label\n1,2,0\n" },
  { surface: "registry run", method: "GET", path: () => `/v1/runs/${runId}`, missing: () => `/v1/runs/${ulid()}` },
  { surface: "registry lineage", method: "GET", path: () => `/v1/runs/${runId}/lineage`, missing: () => `/v1/runs/${ulid()}/lineage` },
  { surface: "registry spans (UI data)", method: "GET", path: () => `/v1/runs/${runId}/spans`, missing: () => `/v1/runs/${ulid()}/spans` },
  { surface: "evaluator evaluation", method: "GET", path: () => `/v1/runs/${runId}/evaluation`, missing: () => `/v1/runs/${ulid()}/evaluation` },
  { surface: "evaluator approve", method: "POST", path: () => `/v1/runs/${runId}/approve`, missing: () => `/v1/runs/${ulid()}/approve`, body: {} },
  { surface: "workspace keys", method: "GET", path: () => "/v1/workspaces/ws-b/keys", missing: () => "/v1/workspaces/ws-none/keys" },
  { surface: "key regenerate", method: "POST", path: () => "/v1/workspaces/ws-b/keys/regenerate", missing: () => "/v1/workspaces/ws-none/keys/regenerate", body: { key: "secondary" } },
];

function send(probe: Probe, path: string, key: string | undefined): Promise<Answer> {
  const contentType = typeof probe.body === "string" ? "text/csv" : "application/json";
  return call(probe.method, path, { key, ...(probe.body !== undefined ? { body: probe.body, contentType } : {}) });
}

describe("authentication on every HTTP surface", () => {
  it.each(probes.map((p) => [p.surface, p] as const))("%s: no key → 401, a wrong key → 401", async (_surface, probe) => {
    expect((await send(probe, probe.path(), undefined)).status).toBe(401);
    expect((await send(probe, probe.path(), WRONG)).status).toBe(401);
    expect((await send(probe, probe.path(), `${KB}x`)).status).toBe(401);
  });

  it.each(probes.map((p) => [p.surface, p] as const))("%s: workspace A's key on B's resource → 404, the same answer as a missing one", async (_surface, probe) => {
    const foreign = await send(probe, probe.path(), KA);
    expect(foreign.status).toBe(404);
    const missing = await send(probe, probe.missing(), KA);
    expect(missing.status).toBe(404);
    expect(errorCode(foreign)).toBe(errorCode(missing));
    // Nothing of B's beyond what the caller sent: no key names, no state.
    expect(foreign.text).not.toContain("ws-b/");
    expect(foreign.text).not.toMatch(/pending|Finished|PrimaryKey/);
  });

  it("lists show workspace A's key nothing of B's", async () => {
    const lists = ["/v1/pipelines", "/v1/runs", "/v1/approvals?state=pending", "/v1/approvals?state=approved"];
    for (const list of lists) {
      const answer = await ok("GET", list, KA);
      expect({ list, leaks: answer.text.includes("p-b") || answer.text.includes(runId) }).toEqual({ list, leaks: false });
    }
    expect((await ok("GET", "/v1/runs", ADMIN)).text).toContain(runId);
    expect((await call("GET", "/workspaces/ws-b/webservices", { key: KA })).status).toBe(404);
    expect((await call("GET", `/subscriptions/sub-b/providers/Microsoft.MachineLearning/webServices?${ARM_VERSION}`, { key: KA })).text).not.toContain("arm-b");
  });

  it("the secondary key opens the same workspace as the primary", async () => {
    expect((await call("GET", "/v1/pipelines", { key: KA2 })).status).toBe(200);
    expect((await call("GET", "/v1/workspaces/ws-b/training-services", { key: KA2 })).status).toBe(404);
  });
});

describe("the admin role", () => {
  it("approve: B's key → 403, the admin key → 200 (recorded as admin)", async () => {
    const denied = await call("POST", `/v1/runs/${runId}/approve`, { key: KB, body: { reason: "mine" } });
    expect([denied.status, errorCode(denied)]).toEqual([403, "Forbidden"]);
    const approved = await call("POST", `/v1/runs/${runId}/approve`, { key: ADMIN, body: { reason: "checked" } });
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ approval: { state: "approved", decidedBy: "admin" } });
  });

  it("rollback: B's key → 403, the admin key → 200", async () => {
    const path = `/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1`;
    const body = { Resources: [{ Name: "B [trained model]", Location: model0 }], Retrain: { reason: "rollback", modelId: "back" } };
    const denied = await call("PATCH", path, { key: KB, body });
    expect([denied.status, errorCode(denied)]).toEqual([403, "Forbidden"]);
    const fresh = (await ok("GET", `/workspaces/ws-b/services/svc-b/jobs/${jobId}?api-version=2.0`, KB)).json as { Results: Record<string, Ref> };
    const rolled = await call("PATCH", path, { key: ADMIN, body: { ...body, Resources: [{ Name: "B [trained model]", Location: fresh.Results["output1"] }] } });
    expect(rolled.status).toBe(200);
  });

  it("delete (classic endpoint, ARM web service): B's key → 403, the admin key → 204/202", async () => {
    const endpoint = `/workspaces/ws-b/webservices/${webServiceId}/endpoints/epdel`;
    expect((await call("DELETE", endpoint, { key: KB })).status).toBe(403);
    expect((await call("DELETE", endpoint, { key: ADMIN })).status).toBe(204);
    expect((await call("GET", endpoint, { key: KB })).status).toBe(404);
    expect((await call("DELETE", `${armPath("arm-b")}?${ARM_VERSION}`, { key: KB })).status).toBe(403);
    expect((await call("DELETE", `${armPath("arm-b")}?${ARM_VERSION}`, { key: ADMIN })).status).toBe(202);
  });

  it("key rotation: B's key → 403; the admin regenerates it; the old key is refused and the new one accepted on every surface", async () => {
    const denied = await call("POST", "/v1/workspaces/ws-b/keys/regenerate", { key: KB, body: { key: "primary" } });
    expect([denied.status, errorCode(denied)]).toEqual([403, "Forbidden"]);
    expect((await call("POST", "/v1/workspaces/ws-b/keys/regenerate", { key: ADMIN, body: { key: "tertiary" } })).status).toBe(400);
    const rotated = await call("POST", "/v1/workspaces/ws-b/keys/regenerate", { key: ADMIN, body: { key: "primary" } });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    const fresh = (rotated.json as { workspace: string; slot: string; key: string }).key;
    expect(rotated.json).toMatchObject({ workspace: "ws-b", slot: "primary" });
    secrets.add(fresh);
    const old = KB;
    KB = fresh;
    const routes = [
      "/v1/workspaces/ws-b/training-services",
      "/workspaces/ws-b/services/svc-b/jobs?api-version=2.0",
      `/workspaces/ws-b/webservices/${webServiceId}`,
      `/v1/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1/model`,
      `/subscriptions/sub-b/providers/Microsoft.MachineLearning/webServices?${ARM_VERSION}`,
      "/v1/pipelines/p-b",
      `/v1/runs/${runId}`,
      `/v1/runs/${runId}/evaluation`,
      "/v1/approvals?state=approved",
    ];
    for (const route of routes) {
      await waitFor(async () => (await call("GET", route, { key: old })).status === 401, { timeoutMs: 5_000, description: `old key refused on ${route}` });
      expect((await call("GET", route, { key: fresh })).status).toBe(200);
    }
    const view = await ok("GET", "/v1/workspaces/ws-b/keys", ADMIN);
    expect(view.json).toMatchObject({ workspace: "ws-b", primary: { origin: "regenerated" }, secondary: null });
    expect(view.text).not.toContain(fresh);
  });
});

describe("read URLs", () => {
  it("a model's read URL lives ≤ 15 min, opens only its blob, and refuses writes", async () => {
    const before = Date.now();
    const model = (await ok("GET", `/v1/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1/model`, KB)).json as { readUrl: string; readUrlExpiresAt: string };
    const url = new URL(model.readUrl);
    const expiresAt = Number(url.searchParams.get("se"));
    expect(expiresAt).toBeGreaterThan(before);
    expect(expiresAt - before).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    expect(Date.parse(model.readUrlExpiresAt) - before).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    expect((await fetch(url)).status).toBe(200);
    const put = await fetch(url, { method: "PUT", body: "overwritten" });
    expect(put.status).toBe(405);
    expect((await fetch(url, { method: "DELETE" })).status).toBe(405);
    const other = new URL(url);
    other.pathname = `${url.pathname.slice(0, url.pathname.lastIndexOf("/"))}/other.ilearner`;
    expect((await fetch(other)).status).toBe(403);
    const later = new URL(url);
    later.searchParams.set("se", String(expiresAt + 3_600_000));
    expect((await fetch(later)).status).toBe(403);
  });

  it("BES Results carry a read-only SAS of about 24 h, minted anew on every GET", async () => {
    const path = `/workspaces/ws-b/services/svc-b/jobs/${jobId}?api-version=2.0`;
    const tokenOf = async () => ((await ok("GET", path, KB)).json as { Results: Record<string, Ref> }).Results["output1"] as Ref;
    const before = Date.now();
    const first = await tokenOf();
    const expiresAt = Number(new URLSearchParams(first.SasBlobToken).get("se"));
    expect(expiresAt - before).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(expiresAt - before).toBeLessThanOrEqual(24 * 3_600_000 + 5_000);
    const second = await waitFor(async () => {
      const next = await tokenOf();
      return next.SasBlobToken !== first.SasBlobToken ? next : undefined;
    }, { description: "a fresh SAS on a later GET" });
    expect(Number(new URLSearchParams(second.SasBlobToken).get("se"))).toBeGreaterThan(expiresAt);
    const url = `${second.BaseLocation}${second.RelativeLocation}${second.SasBlobToken}`;
    expect((await fetch(url, { method: "PUT", body: "x" })).status).toBe(405);
  });
});

describe("model and data locations (SSRF)", () => {
  const metadata = { BaseLocation: "http://169.254.169.254/", RelativeLocation: "latest/meta-data/model.ilearner", SasBlobToken: "?sig=x" };

  it("a PATCH from a host outside the allow-list → 400 LocationNotAllowed", async () => {
    const answer = await call("PATCH", `/workspaces/ws-b/webservices/${webServiceId}/endpoints/ep1`, {
      key: ADMIN,
      body: { Resources: [{ Name: "B [trained model]", Location: metadata }] },
    });
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe("LocationNotAllowed");
  });

  it("an ARM PUT whose asset uri is outside the allow-list → 400 LocationNotAllowed at once (not a failed operation later)", async () => {
    const resource = {
      location: "South Central US",
      properties: {
        title: "arm-ssrf",
        packageType: "Graph",
        assets: { model: { name: "M [trained model]", type: "Resource", locationInfo: { uri: "http://169.254.169.254/latest/model.ilearner" } } },
      },
    };
    const answer = await call("PUT", `${armPath("arm-ssrf")}?${ARM_VERSION}`, { key: KB, body: resource });
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe("LocationNotAllowed");
    expect((await call("GET", `${armPath("arm-ssrf")}?${ARM_VERSION}`, { key: KB })).status).toBe(404);
  });

  it("publishing from such a URL, and a BES input there → 400 with a code", async () => {
    const publish = await call("POST", "/v1/workspaces/ws-b/webservices", { key: KB, body: { name: "evil", model: { uri: "http://127.0.0.1:1/model.ilearner" } } });
    expect(publish.status).toBe(400);
    expect(errorCode(publish)).toBe("LocationNotAllowed");
    const submit = await call("POST", "/workspaces/ws-b/services/svc-b/jobs?api-version=2.0", {
      key: KB,
      body: { Inputs: { input1: { ConnectionString: `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=${randomBytes(8).toString("base64")};BlobEndpoint=http://10.0.0.1/a`, RelativeLocation: "c/x.csv" } } },
    });
    expect(submit.status).toBe(400);
    expect((submit.json as { error: { details: Array<{ code: string }> } }).error.details[0]?.code).toBe("BlobLocationNotAllowed");
  });
});

describe("blob names are the server's", () => {
  const event = (blobName: string) => ({
    specversion: "1.0",
    id: ulid(),
    source: "/security-test",
    type: "retrain.dataset.available.v1",
    data: { pipeline: "p-a", dataset: { blobName } },
  });
  const post = (blobName: string) => call("POST", "/v1/events", { key: KA, body: event(blobName), contentType: "application/cloudevents+json" });

  it("an upload's file name is metadata: the dataset lands under a name the server made", async () => {
    await ok("PUT", "/v1/pipelines/p-a", KA, { trainingWebService: { workspace: "ws-a", service: "svc-a" }, evaluation: { mode: "manual", primaryMetric: "AUC" } });
    const response = await fetch(`${retrain.url}/v1/pipelines/p-a/datasets`, {
      method: "PUT",
      headers: { authorization: `Bearer ${KA}`, "content-type": "text/csv", "x-retrain-filename": "../../keys/keyring.json" },
      body: csv(50, 3),
    });
    expect(response.status).toBeLessThan(300);
    const { runId: uploaded } = (await response.json()) as { runId: string };
    const names: string[] = [];
    for await (const blob of retrain.store.list("")) names.push(blob.name);
    expect(names).toContain(`ingestion/datasets/p-a/${uploaded}.csv`);
    expect(names.filter((n) => n.includes(".."))).toEqual([]);
  });

  it("a DatasetAvailable naming the keyring or another workspace's dataset is refused (400), nothing copied", async () => {
    const foreignDataset = `ingestion/datasets/p-b/${runId}.csv`;
    expect(await retrain.store.head(foreignDataset)).toBeDefined();
    for (const blobName of ["keys/keyring.json", foreignDataset]) {
      const answer = await post(blobName);
      expect({ blobName, status: answer.status }).toEqual({ blobName, status: 400 });
    }
  });
});

describe("secrets at rest and in logs", () => {
  async function filesUnder(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await filesUnder(path)));
      else out.push(path);
    }
    return out;
  }

  it("no API key, endpoint key or SAS signature is in clear anywhere in the data directory", async () => {
    const files = await filesUnder(dataDir);
    // The documents that hold key digests and the job's sealed SAS are among those scanned.
    expect(files.some((f) => f.includes("keyring.json@"))).toBe(true);
    expect(files.some((f) => f.includes(`${jobId}.json@`))).toBe(true);
    for (const file of files) {
      // The services keep working while this scans: a temporary file renamed away meanwhile is skipped.
      const bytes = await readFile(file).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
        throw error;
      });
      for (const secret of secrets) {
        if (secret === "") continue;
        expect({ file, found: bytes.includes(Buffer.from(secret, "utf8")) }).toEqual({ file, found: false });
      }
    }
  });

  it("no key appears in any log line of the whole run (trace level)", () => {
    expect(logLines.length).toBeGreaterThan(50);
    const all = logLines.join("");
    for (const secret of secrets) {
      if (secret === "") continue;
      expect(all.includes(secret)).toBe(false);
    }
  });
});
