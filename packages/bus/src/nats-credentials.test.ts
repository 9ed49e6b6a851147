// nkey and decentralized (operator/JWT, `.creds`) authentication against real nats-servers: the
// credentials connect and set up JetStream; others are refused without a secret in the error.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, startNatsServer, tempDir, uniqueName } from "@retrain/testing";
import { BusError } from "./errors.js";
import { connectNatsBus } from "./nats-bus.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

type Credentials = { nkeySeed: string } | { credsFile: string };

/** Connects with `credentials`, sets up JetStream (a subscription creates the stream and a consumer), closes. */
async function connectAndSubscribe(servers: string, credentials: Credentials, group: string): Promise<void> {
  const bus = await connectNatsBus({ servers, prefix: uniqueName(group), logger: silentLogger(), ...credentials });
  try {
    const subscription = await bus.subscribe({ group, types: ["retrain.data.arrived.v1"], handler: async () => undefined });
    await subscription.close({ graceMs: 0 });
  } finally {
    await bus.close({ graceMs: 0 });
  }
}

/** The error a connection with `credentials` fails with (the test fails if it connects). */
async function refusal(servers: string, credentials: Credentials): Promise<Error> {
  const error: unknown = await connectNatsBus({ servers, prefix: uniqueName("refused"), logger: silentLogger(), ...credentials }).then(
    async (other) => {
      await other.close({ graceMs: 0 });
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BusError);
  return error as Error;
}

describe("NATS nkey credentials", () => {
  it("the user's seed connects; another seed is refused", async () => {
    const user = nkeys.createUser();
    const nats = await startNatsServer({ auth: { nkey: user.getPublicKey() } });
    cleanup.add(() => nats.stop());
    const seed = new TextDecoder().decode(user.getSeed());
    await connectAndSubscribe(nats.url, { nkeySeed: seed }, "nkey-check");
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    expect((await refusal(nats.url, { nkeySeed: stranger })).message).not.toContain(stranger);
  }, 30_000);
});

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** A NATS JWT (v2): `{typ, alg: ed25519-nkey}` . claims . the issuer's ed25519 signature, base64url. */
function natsJwt(subject: string, name: string, nats: Record<string, unknown>, issuer: KeyPair): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const claims = { jti: randomBytes(20).toString("hex").toUpperCase(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const signed = `${encode({ typ: "JWT", alg: "ed25519-nkey" })}.${encode(claims)}`;
  return `${signed}.${Buffer.from(issuer.sign(Buffer.from(signed))).toString("base64url")}`;
}

const UNLIMITED_ACCOUNT = {
  type: "account",
  limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  default_permissions: { pub: {}, sub: {} },
};

/** A `.creds` file as `nsc` writes it: the user's JWT and its nkey seed. */
function credsFile(userJwt: string, seed: string): string {
  return [
    "-----BEGIN NATS USER JWT-----",
    userJwt,
    "------END NATS USER JWT------",
    "",
    "************************* IMPORTANT *************************",
    "NKEY Seed printed below can be used to sign and prove identity.",
    "NKEYs are sensitive and should be treated as secrets.",
    "",
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}

describe("NATS decentralized authentication (operator, account and user JWTs; a .creds file)", () => {
  it("a user of the account connects with its .creds file and sets up JetStream; a user signed by another account is refused", async () => {
    const operator = nkeys.createOperator();
    const system = nkeys.createAccount();
    const account = nkeys.createAccount();
    const user = nkeys.createUser();
    const nats = await startNatsServer({
      auth: {
        operatorJwt: natsJwt(operator.getPublicKey(), "test-operator", { type: "operator" }, operator),
        systemAccount: system.getPublicKey(),
        accounts: {
          [system.getPublicKey()]: natsJwt(system.getPublicKey(), "SYS", { type: "account", limits: { conn: -1 } }, operator),
          [account.getPublicKey()]: natsJwt(account.getPublicKey(), "retrain", UNLIMITED_ACCOUNT, operator),
        },
      },
    });
    cleanup.add(() => nats.stop());
    const dir = await tempDir("retrain-creds-");
    cleanup.add(() => dir.remove());
    const userNats = { type: "user", pub: {}, sub: {}, subs: -1, data: -1, payload: -1 };
    const creds = join(dir.path, "retrain.creds");
    await writeFile(creds, credsFile(natsJwt(user.getPublicKey(), "retrain", userNats, account), new TextDecoder().decode(user.getSeed())), { mode: 0o600 });

    await connectAndSubscribe(nats.url, { credsFile: creds }, "creds-check");

    // Signed by an account the operator never issued: refused, and the seed is in no error.
    const stranger = nkeys.createUser();
    const strangerSeed = new TextDecoder().decode(stranger.getSeed());
    const foreign = join(dir.path, "foreign.creds");
    await writeFile(foreign, credsFile(natsJwt(stranger.getPublicKey(), "stranger", userNats, nkeys.createAccount()), strangerSeed), { mode: 0o600 });
    const error = await refusal(nats.url, { credsFile: foreign });
    expect(`${error.message} ${String(error.cause)}`).toMatch(/authoriz|authentic/i);
    expect(error.message).not.toContain(strangerSeed);
  }, 30_000);
});
