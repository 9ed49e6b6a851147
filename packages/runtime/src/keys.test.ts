// The keyring: digests only at rest, seeded from retrain.yaml, rotations seen by every verifier on
// the store within the cache time, and a restart that does not bring a rotated key back.
import { randomBytes } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { createHttpApp, startHttpServer } from "@retrain/service-kit";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { silentLogger } from "@retrain/telemetry";
import { KEYRING_BLOB, Keyring, KeyringError, type OpenKeyringOptions } from "./keys.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

async function freshStore(): Promise<FileSystemBlobStore> {
  const dir = await tempDir("retrain-keys-");
  cleanup.add(() => dir.remove());
  return new FileSystemBlobStore({ root: dir.path });
}

const kek = randomBytes(32);
const primaryA = `ws-a-primary-${randomBytes(12).toString("hex")}`;
const secondaryA = `ws-a-secondary-${randomBytes(12).toString("hex")}`;
const primaryB = `ws-b-primary-${randomBytes(12).toString("hex")}`;
const workspaces = [
  { id: "ws-a", keys: { primary: primaryA, secondary: secondaryA } },
  { id: "ws-b", keys: { primary: primaryB } },
];

function open(store: FileSystemBlobStore, options: Partial<OpenKeyringOptions> = {}) {
  return Keyring.open({ store, kek, workspaces, logger: silentLogger(), cacheMs: 50, ...options });
}

async function documentText(store: FileSystemBlobStore): Promise<string> {
  return (await store.getBuffer(KEYRING_BLOB)).body.toString("utf8");
}

describe("Keyring", () => {
  it("verifies the configured keys with their workspace and role, and stores no key in clear", async () => {
    const store = await freshStore();
    const adminKey = `admin-${randomBytes(16).toString("hex")}`;
    const { keyring, generatedAdminKey } = await open(store, { adminKey });
    expect(generatedAdminKey).toBeUndefined();
    expect(await keyring.verify(primaryA)).toEqual({ name: "ws-a/primary", workspace: "ws-a", role: "user" });
    expect(await keyring.verify(secondaryA)).toEqual({ name: "ws-a/secondary", workspace: "ws-a", role: "user" });
    expect(await keyring.verify(primaryB)).toEqual({ name: "ws-b/primary", workspace: "ws-b", role: "user" });
    expect(await keyring.verify(adminKey)).toEqual({ name: "admin", workspace: "*", role: "admin" });
    expect(await keyring.verify("not-a-key-at-all-0000")).toBeUndefined();
    const text = await documentText(store);
    for (const key of [primaryA, secondaryA, primaryB, adminKey]) expect(text).not.toContain(key);
    expect(JSON.parse(text)).toMatchObject({ version: 1, scheme: expect.stringMatching(/^hmac-sha256:[0-9a-f]{16}$/) });
  });

  it("generates the bootstrap admin key once: the first start hands it back, later starts do not, and it keeps working", async () => {
    const store = await freshStore();
    const first = await open(store);
    const generated = first.generatedAdminKey;
    expect(generated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await first.keyring.verify(generated ?? "")).toMatchObject({ role: "admin", workspace: "*" });
    const second = await open(store);
    expect(second.generatedAdminKey).toBeUndefined();
    expect(await second.keyring.verify(generated ?? "")).toMatchObject({ role: "admin" });
    expect(await documentText(store)).not.toContain(generated);
    // Configuring an admin key retires the generated one.
    const configured = `admin-${randomBytes(16).toString("hex")}`;
    const third = await open(store, { adminKey: configured });
    expect(await third.keyring.verify(generated ?? "")).toBeUndefined();
    expect(await third.keyring.verify(configured)).toMatchObject({ role: "admin" });
  });

  it("rotates a slot: every verifier on the store refuses the old key and accepts the new one within the cache time", async () => {
    const store = await freshStore();
    const services = await Promise.all([open(store), open(store), open(store)]);
    const [rotator, ...others] = services.map((s) => s.keyring) as [Keyring, Keyring, Keyring];
    for (const keyring of [rotator, ...others]) expect(await keyring.verify(primaryA)).toBeDefined();
    const fresh = await rotator.regenerate("ws-a", "primary");
    expect(fresh).not.toBe(primaryA);
    expect(await rotator.verify(primaryA)).toBeUndefined();
    expect(await rotator.verify(fresh)).toEqual({ name: "ws-a/primary", workspace: "ws-a", role: "user" });
    for (const keyring of others) {
      await waitFor(async () => (await keyring.verify(primaryA)) === undefined, { description: "old key refused" });
      expect(await keyring.verify(fresh)).toMatchObject({ workspace: "ws-a" });
    }
    // The other slot is untouched: clients move to it while the primary changes.
    expect(await others[0].verify(secondaryA)).toMatchObject({ name: "ws-a/secondary" });
    expect(await documentText(store)).not.toContain(fresh);
  });

  it("does not bring a rotated key back on restart with the same retrain.yaml, but follows a changed file", async () => {
    const store = await freshStore();
    const { keyring } = await open(store);
    const fresh = await keyring.regenerate("ws-b", "primary");
    const restarted = (await open(store)).keyring;
    expect(await restarted.verify(primaryB)).toBeUndefined();
    expect(await restarted.verify(fresh)).toMatchObject({ workspace: "ws-b" });
    const edited = `ws-b-edited-${randomBytes(12).toString("hex")}`;
    const reconfigured = (await open(store, { workspaces: [workspaces[0] as (typeof workspaces)[0], { id: "ws-b", keys: { primary: edited } }] })).keyring;
    expect(await reconfigured.verify(edited)).toMatchObject({ name: "ws-b/primary" });
    expect(await reconfigured.verify(fresh)).toBeUndefined();
  });

  it("drops a key removed from retrain.yaml, and creates keys for a new workspace on regenerate", async () => {
    const store = await freshStore();
    await open(store);
    const { keyring } = await open(store, { workspaces: [{ id: "ws-a", keys: { primary: primaryA } }, { id: "ws-b", keys: { primary: primaryB } }] });
    expect(await keyring.verify(secondaryA)).toBeUndefined();
    expect(await keyring.describe("ws-c")).toBeUndefined();
    const created = await keyring.regenerate("ws-c", "secondary");
    expect(await keyring.verify(created)).toEqual({ name: "ws-c/secondary", workspace: "ws-c", role: "user" });
    expect(await keyring.describe("ws-c")).toMatchObject({ workspace: "ws-c", primary: null, secondary: { origin: "regenerated" } });
    await expect(keyring.regenerate("../etc", "primary")).rejects.toMatchObject({ status: 400 });
  });

  it("refuses a keyring made under another key-encryption key, naming RETRAIN_KEK (and never a key)", async () => {
    const store = await freshStore();
    await open(store);
    const error: unknown = await open(store, { kek: randomBytes(32) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyringError);
    expect((error as KeyringError).code).toBe("SchemeMismatch");
    expect((error as Error).message).toMatch(/RETRAIN_KEK/);
    for (const key of [primaryA, secondaryA, primaryB]) expect((error as Error).message).not.toContain(key);
  });

  it("without a KEK keeps plain SHA-256 digests (still no key in clear)", async () => {
    const store = await freshStore();
    const { keyring } = await Keyring.open({ store, workspaces, logger: silentLogger() });
    expect(await keyring.verify(primaryA)).toMatchObject({ workspace: "ws-a" });
    const text = await documentText(store);
    expect(JSON.parse(text)).toMatchObject({ scheme: "sha256" });
    expect(text).not.toContain(primaryA);
  });

  it("creates named operator keys (an admin's or one workspace's rights under the operator's name) seen by every process, and deletes them everywhere", async () => {
    const store = await freshStore();
    const adminKey = `admin-${randomBytes(16).toString("hex")}`;
    const { keyring } = await open(store, { adminKey });
    const other = (await open(store, { adminKey })).keyring;
    const alice = await keyring.createOperator("alice", "*", "admin");
    const bob = await keyring.createOperator("bob", "ws-a", "alice");
    expect(await keyring.verify(alice)).toEqual({ name: "alice", workspace: "*", role: "admin" });
    expect(await keyring.verify(bob)).toEqual({ name: "bob", workspace: "ws-a", role: "user" });
    await waitFor(async () => (await other.verify(alice))?.name === "alice", { timeoutMs: 5_000, description: "the other process accepting alice's key" });
    expect(await keyring.listOperators()).toEqual([
      { name: "alice", workspace: "*", role: "admin", createdAt: expect.any(String), createdBy: "admin" },
      { name: "bob", workspace: "ws-a", role: "user", createdAt: expect.any(String), createdBy: "alice" },
    ]);
    const text = await documentText(store);
    for (const key of [alice, bob]) expect(text).not.toContain(key);

    await expect(keyring.createOperator("alice", "ws-b", "admin")).rejects.toMatchObject({ status: 409, code: "OperatorExists" });
    for (const bad of ["admin", "Alice", "a/b", "", "x".repeat(65)]) await expect(keyring.createOperator(bad, "*", "admin")).rejects.toMatchObject({ status: 400 });
    await expect(keyring.createOperator("carol", "no such/ws", "admin")).rejects.toMatchObject({ status: 400 });

    // A restart with the same retrain.yaml keeps them; a delete ends a key in every process.
    const restarted = (await open(store, { adminKey })).keyring;
    expect(await restarted.verify(bob)).toMatchObject({ name: "bob" });
    expect(await keyring.deleteOperator("alice", "admin")).toBe(true);
    expect(await keyring.deleteOperator("alice", "admin")).toBe(false);
    expect(await keyring.verify(alice)).toBeUndefined();
    await waitFor(async () => (await other.verify(alice)) === undefined, { timeoutMs: 5_000, description: "the other process refusing alice's deleted key" });
    expect(await other.verify(bob)).toMatchObject({ name: "bob" });
  });

  it("serves /v1/operators to an admin of every workspace only, and never shows a key again", async () => {
    const store = await freshStore();
    const adminKey = `admin-${randomBytes(16).toString("hex")}`;
    const { keyring } = await open(store, { adminKey });
    const { app } = createHttpApp({ serviceName: "keys", logger: silentLogger(), routes: (router) => keyring.registerRoutes(router) });
    const server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    const call = async (method: string, path: string, key: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, cache: response.headers.get("cache-control"), body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> };
    };

    const created = await call("POST", "/v1/operators", adminKey, { name: "alice" });
    expect(created).toMatchObject({ status: 201, cache: "no-store", body: { name: "alice", workspace: "*", role: "admin", key: expect.any(String) } });
    const aliceKey = String(created.body["key"]);
    const bob = await call("POST", "/v1/operators", aliceKey, { name: "bob", workspace: "ws-a" });
    expect(bob).toMatchObject({ status: 201, body: { role: "user", workspace: "ws-a" } });
    const bobKey = String(bob.body["key"]);

    const listed = await call("GET", "/v1/operators", aliceKey);
    expect(listed.status).toBe(200);
    expect(listed.body["value"]).toEqual([expect.objectContaining({ name: "alice", createdBy: "admin" }), expect.objectContaining({ name: "bob", createdBy: "alice" })]);
    expect(JSON.stringify(listed.body)).not.toContain(aliceKey);

    for (const key of [bobKey, primaryA]) {
      expect((await call("GET", "/v1/operators", key)).status).toBe(403);
      expect((await call("POST", "/v1/operators", key, { name: "mallory" })).status).toBe(403);
      expect((await call("DELETE", "/v1/operators/alice", key)).status).toBe(403);
    }
    expect(await call("POST", "/v1/operators", adminKey, { name: "alice" })).toMatchObject({ status: 409, body: { error: { code: "OperatorExists" } } });
    expect((await call("POST", "/v1/operators", adminKey, { name: "x", role: "admin" })).status).toBe(400);
    expect((await call("DELETE", "/v1/operators/bob", aliceKey)).status).toBe(204);
    expect((await call("DELETE", "/v1/operators/bob", aliceKey)).status).toBe(404);
    expect((await call("GET", "/v1/operators", bobKey)).status).toBe(401);
  });
});
