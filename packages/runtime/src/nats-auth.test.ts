// NATS credentials from configuration, against a real nats-server that requires them: user and
// password (`--user/--pass`) and a token (`--auth`). Right credentials connect and set up JetStream;
// missing or wrong ones fail with a BusError that does not quote the secret.
import { randomBytes } from "node:crypto";
import { BusError } from "@retrain/bus";
import { Cleanup, startNatsServer, uniqueName } from "@retrain/testing";
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
  expect((error as BusError).code).toBe("ConnectionFailed");
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
});
