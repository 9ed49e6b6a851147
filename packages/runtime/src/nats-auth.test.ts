// NATS credentials from configuration, against a real nats-server that requires them: user and
// password (`--user/--pass`), a token (`--auth`), and TLS with client certificates (`--tlsverify`).
// Right credentials connect and set up JetStream; missing or wrong ones fail with a BusError that
// does not quote the secret.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BusError } from "@retrain/bus";
import { Cleanup, startNatsServer, tempDir, uniqueName } from "@retrain/testing";
import { silentLogger } from "@retrain/telemetry";
import { connectBus } from "./adapters.js";
import { PlatformEnv } from "./platform-config.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

function env(url: string, extra: Record<string, string>): PlatformEnv {
  return PlatformEnv.parse({ BUS: "nats", NATS_URL: url, NATS_PREFIX: uniqueName("auth"), ...extra });
}

async function connectsAndSubscribes(config: PlatformEnv): Promise<void> {
  const bus = await connectBus(config, silentLogger(), "auth-test");
  try {
    // A durable consumer is a JetStream API call: only an authenticated connection gets this far.
    const subscription = await bus.subscribe({ group: "auth-check", types: ["retrain.data.arrived.v1"], handler: async () => undefined });
    await subscription.close({ graceMs: 0 });
  } finally {
    await bus.close({ graceMs: 0 });
  }
}

async function refusal(config: PlatformEnv, secret: string): Promise<unknown> {
  const error: unknown = await connectBus(config, silentLogger(), "auth-test").then(
    async (bus) => {
      await bus.close({ graceMs: 0 });
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  expect(error).toBeInstanceOf(BusError);
  // A server that drops a TLS client without a certificate after the handshake leaves the client
  // waiting for its greeting: that refusal surfaces as the connect timeout.
  expect(["ConnectionFailed", "Timeout"]).toContain((error as BusError).code);
  expect(String((error as Error).message)).not.toContain(secret);
  return error;
}

describe("NATS credentials from configuration", () => {
  it("user and password: the right pair connects; none or a wrong password is refused", async () => {
    const user = "retrain";
    const pass = randomBytes(16).toString("hex");
    const nats = await startNatsServer({ auth: { user, pass } });
    cleanup.add(() => nats.stop());
    await connectsAndSubscribes(env(nats.url, { NATS_USER: user, NATS_PASSWORD: pass }));
    await refusal(env(nats.url, {}), pass);
    const wrong = randomBytes(16).toString("hex");
    await refusal(env(nats.url, { NATS_USER: user, NATS_PASSWORD: wrong }), wrong);
  }, 30_000);

  it("token: the right token connects; none or a wrong token is refused", async () => {
    const token = randomBytes(24).toString("hex");
    const nats = await startNatsServer({ auth: { token } });
    cleanup.add(() => nats.stop());
    await connectsAndSubscribes(env(nats.url, { NATS_TOKEN: token }));
    await refusal(env(nats.url, {}), token);
    const wrong = randomBytes(24).toString("hex");
    await refusal(env(nats.url, { NATS_TOKEN: wrong }), wrong);
  }, 30_000);

  it("TLS with client certificates: the CA and a client certificate connect; without the certificate, or without trusting the CA, refused", async () => {
    const dir = await tempDir("retrain-nats-tls-");
    cleanup.add(() => dir.remove());
    const pki = await certificates(dir.path);
    const nats = await startNatsServer({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert } });
    cleanup.add(() => nats.stop());
    await connectsAndSubscribes(env(nats.url, { NATS_TLS_CA: pki.caCert, NATS_TLS_CERT: pki.clientCert, NATS_TLS_KEY: pki.clientKey }));
    await refusal(env(nats.url, { NATS_TLS_CA: pki.caCert }), "-----BEGIN");
    const stranger = await certificates(join(dir.path, "other"));
    await refusal(env(nats.url, { NATS_TLS_CA: stranger.caCert, NATS_TLS_CERT: pki.clientCert, NATS_TLS_KEY: pki.clientKey }), "-----BEGIN");
  }, 90_000);
});

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
async function certificates(dir: string): Promise<{ caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }> {
  await mkdir(dir, { recursive: true });
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "1", "-subj", "/CN=retrain-test-ca");
  await writeFile(at("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await writeFile(at("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, subject] of [["server", "/CN=127.0.0.1"], ["client", "/CN=retrain"]] as const) {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`), "-subj", subject);
    openssl("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial", "-out", at(`${name}.pem`), "-days", "1", "-extfile", at(`${name}.ext`));
  }
  return { caCert: at("ca.pem"), serverCert: at("server.pem"), serverKey: at("server.key"), clientCert: at("client.pem"), clientKey: at("client.key") };
}
