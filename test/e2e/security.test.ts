// Key rotation in the distributed deployment: every service is its own OS process and verifies keys
// itself from the shared keyring in Azurite. A regenerate through one service is seen by all of them;
// a restarted service does not bring the old key back; the keyring holds no key in clear.
import { waitFor } from "@retrain/testing";
import { startDeployment, type Deployment } from "./deployment.js";
import { buildAll } from "./processes.js";

let deployment: Deployment;

beforeAll(async () => {
  buildAll();
  deployment = await startDeployment({ config: [] });
}, 240_000);
afterAll(() => deployment?.stop(), 60_000);

async function status(url: string, key: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.body !== undefined ? { "content-type": "application/json" } : {}) } });
  await response.arrayBuffer();
  return response.status;
}

describe("key rotation across processes", () => {
  it("regenerated through the registry: refused by every service's old key, accepted with the new one, also after a restart", async () => {
    const probes = [
      { name: "trainer", url: `${deployment.trainers[0]?.url ?? ""}/v1/workspaces/e2e/training-services` },
      { name: "trainer BES", url: `${deployment.trainers[0]?.url ?? ""}/workspaces/e2e/services/none/jobs?api-version=2.0` },
      { name: "scoring", url: `${deployment.scoring.url}/workspaces/e2e/webservices` },
      { name: "ingestion", url: `${deployment.ingestion.url}/v1/pipelines` },
      { name: "evaluator", url: `${deployment.evaluator.url}/v1/approvals` },
      { name: "registry", url: `${deployment.registry.url}/v1/runs` },
      { name: "notifier", url: `${deployment.notifier.url}/v1/subscriptions` },
    ];
    const accepted = (code: number) => code !== 401 && code !== 403 && code < 500;
    for (const probe of probes) {
      expect({ probe: probe.name, accepted: accepted(await status(probe.url, deployment.key)) }).toEqual({ probe: probe.name, accepted: true });
      expect({ probe: probe.name, status: await status(probe.url, `${deployment.key}x`) }).toEqual({ probe: probe.name, status: 401 });
    }

    const regenerate = `${deployment.registry.url}/v1/workspaces/e2e/keys/regenerate`;
    expect(await status(regenerate, deployment.key, { method: "POST", body: '{"key":"primary"}' })).toBe(403);
    const response = await fetch(regenerate, { method: "POST", headers: { authorization: `Bearer ${deployment.adminKey}`, "content-type": "application/json" }, body: '{"key":"primary"}' });
    expect(response.status).toBe(200);
    const fresh = ((await response.json()) as { key: string }).key;

    for (const probe of probes) {
      await waitFor(async () => (await status(probe.url, deployment.key)) === 401, { timeoutMs: 15_000, description: `${probe.name} refusing the old key` });
      expect({ probe: probe.name, accepted: accepted(await status(probe.url, fresh)) }).toEqual({ probe: probe.name, accepted: true });
    }

    // A restart seeds the keyring from the same retrain.yaml again: the rotated slot stays rotated.
    const ingestion = deployment.services.find((s) => s.name === "ingestion");
    if (ingestion === undefined) throw new Error("no ingestion process");
    await ingestion.kill("SIGTERM");
    await ingestion.restart();
    expect(await status(`${ingestion.url}/v1/pipelines`, deployment.key)).toBe(401);
    expect(await status(`${ingestion.url}/v1/pipelines`, fresh)).toBe(200);

    const keyring = (await deployment.store.getBuffer("keys/keyring.json")).body.toString("utf8");
    for (const key of [deployment.key, fresh, deployment.adminKey]) expect(keyring.includes(key)).toBe(false);
  }, 120_000);
});
