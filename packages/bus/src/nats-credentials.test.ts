// nkey authentication against a real nats-server whose only user is an nkey: the seed connects and
// sets up JetStream; another seed is refused without the seed appearing in the error.
import { nkeys } from "@nats-io/transport-node";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, startNatsServer, uniqueName } from "@retrain/testing";
import { BusError } from "./errors.js";
import { connectNatsBus } from "./nats-bus.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe("NATS nkey credentials", () => {
  it("the user's seed connects; another seed is refused", async () => {
    const user = nkeys.createUser();
    const nats = await startNatsServer({ auth: { nkey: user.getPublicKey() } });
    cleanup.add(() => nats.stop());
    const seed = new TextDecoder().decode(user.getSeed());
    const bus = await connectNatsBus({ servers: nats.url, prefix: uniqueName("nkey"), logger: silentLogger(), nkeySeed: seed });
    try {
      const subscription = await bus.subscribe({ group: "nkey-check", types: ["retrain.data.arrived.v1"], handler: async () => undefined });
      await subscription.close({ graceMs: 0 });
    } finally {
      await bus.close({ graceMs: 0 });
    }
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    const error: unknown = await connectNatsBus({ servers: nats.url, prefix: uniqueName("nkey"), logger: silentLogger(), nkeySeed: stranger }).then(
      async (other) => {
        await other.close({ graceMs: 0 });
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BusError);
    expect((error as Error).message).not.toContain(stranger);
  }, 30_000);
});
