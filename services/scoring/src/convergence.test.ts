// Two scoring processes (the built dist/main.js, real OS processes) on one Azurite store converge
// to the same model for an endpoint within 2 s of a PATCH to either.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { AzureBlobStore } from "@retrain/blob";
import { freePort, spawnManaged, startAzurite, tempDir, uniqueName, waitFor, type AzuriteFixture, type ManagedProcess } from "@retrain/testing";
import { trainLogisticModel } from "./test-support/models.js";

const REPO = resolve(__dirname, "../../..");
const MAIN = resolve(__dirname, "../dist/main.js");
const ADMIN_KEY = `admin-${randomBytes(16).toString("hex")}`;

interface Host {
  readonly url: string;
  readonly process: ManagedProcess;
}

let azurite: AzuriteFixture;
let sources: AzureBlobStore;
let dataDir: { path: string; remove(): Promise<void> };
const hosts: Host[] = [];

async function startHost(env: Record<string, string>): Promise<Host> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnManaged(process.execPath, [MAIN], {
    // Only what the host needs: its environment is its whole configuration (node is started by absolute path).
    env: { ...env, SCORING_PORT: String(port), SCORING_PUBLIC_URL: url, LOG_LEVEL: "warn" },
  });
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`scoring exited: ${proc.output()}`);
      const ready = await fetch(`${url}/readyz`).catch(() => undefined);
      return ready?.status === 200;
    },
    { timeoutMs: 20_000, description: `scoring on ${port} to be ready` },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${proc.output()}`);
  });
  return { url, process: proc };
}

async function call(host: Host, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(`${host.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

beforeAll(async () => {
  // The processes run the built service, so build it (and what it depends on) first.
  execFileSync(process.execPath, [resolve(REPO, "node_modules/typescript/bin/tsc"), "-b", "services/scoring"], { cwd: REPO, stdio: "pipe" });
  azurite = await startAzurite();
  sources = new AzureBlobStore({ connectionString: azurite.connectionString, container: uniqueName("sources"), createContainer: true });
  dataDir = await tempDir("retrain-convergence-");
  const env = {
    BLOB: "azure",
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AZURE_STORAGE_CONTAINER: uniqueName("scoring"),
    BUS: "memory",
    RETRAIN_ADMIN_KEY: ADMIN_KEY,
    SCORING_KEK: randomBytes(32).toString("base64"),
    SCORING_ALLOWED_HOSTS: `127.0.0.1:${azurite.port}`,
    SCORING_SYNC_INTERVAL: "250",
    SCORING_DATA_DIR: dataDir.path,
  };
  hosts.push(await startHost(env), await startHost(env));
}, 120_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.process.stop("SIGTERM")));
  await sources?.close();
  await azurite?.stop();
  await dataDir?.remove();
});

async function sourceLocation(name: string, bytes: Buffer): Promise<{ BaseLocation: string; RelativeLocation: string; SasBlobToken: string }> {
  await sources.put(name, bytes);
  const url = new URL(await sources.readUrl(name, 3_600_000));
  const path = url.pathname.replace(/^\/+/, "");
  // Azurite's path carries the account: BaseLocation is up to it, as for Azure's host.
  const account = path.split("/", 1)[0] as string;
  return { BaseLocation: `${url.origin}/${account}/`, RelativeLocation: path.slice(account.length + 1), SasBlobToken: url.search };
}

describe("two scoring processes on one store", () => {
  it("converge to the same model within 2 s of a PATCH to either", async () => {
    const [a, b] = hosts as [Host, Host];
    const published = await call(a, "POST", "/v1/workspaces/ws1/webservices", ADMIN_KEY, {
      name: "Converge",
      model: { location: await sourceLocation("m0.ilearner", trainLogisticModel({ seed: 300 })) },
    });
    expect(published.status).toBe(201);
    const serviceId = String((published.body["webService"] as Record<string, unknown>)["Id"]);
    const endpointPath = `/workspaces/ws1/webservices/${serviceId}/endpoints/loc1`;
    const endpoint = await call(a, "PUT", endpointPath, ADMIN_KEY, { ThrottleLevel: "High", MaxConcurrentCalls: 20 });
    expect(endpoint.status).toBe(200);
    const executePath = `${new URL(String(endpoint.body["ApiLocation"])).pathname}/execute?api-version=2.0`;
    const key = String(endpoint.body["PrimaryKey"]);
    const input = { Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["0.1", "0.2", "0.3"]] } } };
    const servedBy = async (host: Host): Promise<string | null> => (await call(host, "POST", executePath, key, input)).headers.get("x-retrain-model");

    // Created on A, found at once on B (a miss makes B sync before answering 404).
    expect(await servedBy(b)).toMatch(/@r1$/);
    expect(await servedBy(a)).toMatch(/@r1$/);

    let revision = 1;
    for (const [via, other, seed] of [
      [b, a, 301],
      [a, b, 302],
      [b, a, 303],
    ] as const) {
      const patch = await call(via, "PATCH", endpointPath, ADMIN_KEY, {
        Resources: [{ Name: "Converge [trained model]", Location: await sourceLocation(`m${seed}.ilearner`, trainLogisticModel({ seed, weights: [seed - 302, 1, -1] })) }],
      });
      expect(patch.status).toBe(200);
      revision += 1;
      const label = patch.headers.get("x-retrain-model");
      expect(label).toMatch(new RegExp(`@r${revision}$`));
      const patchedAt = Date.now();
      expect(await servedBy(via)).toBe(label);
      await waitFor(async () => (await servedBy(other)) === label, { timeoutMs: 2_000, intervalMs: 25, description: `the other process to serve ${label}` });
      expect(Date.now() - patchedAt).toBeLessThan(2_000);
    }
  }, 60_000);
});
