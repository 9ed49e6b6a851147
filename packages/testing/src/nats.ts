import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FixtureUnavailableError, findExecutable, spawnManaged, waitForPort, type ManagedProcess } from "./process.js";
import { freePort, tempDir } from "./names.js";
import { containerRuntimeAvailable } from "./containers.js";

/** A nats-server with JetStream that a test owns. */
export interface NatsServerFixture {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Where JetStream keeps its store (kept across {@link restart}). */
  readonly storeDir: string;
  /** How it was started: a container or the local binary. */
  readonly runtime: "container" | "process";
  /** Stops the server hard (SIGKILL) or gracefully, keeping the store. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port with the same store (after {@link kill}). */
  restart(): Promise<void>;
  /** Stops the server and removes its store. */
  stop(): Promise<void>;
}

/** Options for {@link startNatsServer}. */
/**
 * Decentralized (operator/JWT) authentication: the operator's JWT, the system account's public key,
 * and every account's JWT by public key, served from memory (`resolver: MEMORY`). Clients then connect
 * with a `.creds` file (a user JWT signed by an account, and the user's nkey seed).
 */
export interface DecentralizedAuth {
  readonly operatorJwt: string;
  readonly systemAccount: string;
  readonly accounts: Readonly<Record<string, string>>;
}

export interface StartNatsServerOptions {
  /** Port to listen on. Default: a free port. */
  port?: number;
  /**
   * Require a user and password (`--user/--pass`), a token (`--auth`), or an nkey (the user's public
   * key `U…`, through a configuration file). Default: no authentication.
   */
  auth?: { user: string; pass: string } | { token: string } | { nkey: string } | DecentralizedAuth;
  /** Serve TLS with this certificate; with `caFile`, also require client certificates signed by it (PEM paths). */
  tls?: { certFile: string; keyFile: string; caFile?: string };
}

/**
 * Starts a nats-server with JetStream on a free port and a temporary store.
 * Uses testcontainers when a container engine answers; otherwise the `nats-server` binary on PATH;
 * otherwise fails with a message naming what to install.
 */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerFixture> {
  if (options.auth === undefined && options.tls === undefined && (await containerRuntimeAvailable())) {
    const { startNatsContainer } = await import("./nats-container.js");
    return startNatsContainer();
  }
  const binary = findExecutable("nats-server");
  if (binary === undefined) {
    throw new FixtureUnavailableError(
      "nats-server",
      "no container engine answers and no nats-server binary is on PATH; install it (`apt-get install -y nats-server`)",
    );
  }
  const port = options.port ?? (await freePort());
  const store = await tempDir("retrain-nats-");
  let proc: ManagedProcess | undefined;
  const auth: string[] = [];
  if (options.auth !== undefined && "operatorJwt" in options.auth) {
    const { operatorJwt, systemAccount, accounts } = options.auth;
    const preload = Object.entries(accounts).map(([key, jwt]) => `    ${key}: "${jwt}"`).join("\n");
    const config = join(store.path, "operator.conf");
    await writeFile(config, `operator: "${operatorJwt}"\nsystem_account: "${systemAccount}"\nresolver: MEMORY\nresolver_preload: {\n${preload}\n}\n`);
    auth.push("-c", config);
  } else if (options.auth !== undefined && "nkey" in options.auth) {
    // nkey users exist only in a configuration file.
    const config = join(store.path, "auth.conf");
    await writeFile(config, `authorization { users = [ { nkey: "${options.auth.nkey}" } ] }\n`);
    auth.push("-c", config);
  } else if (options.auth !== undefined) {
    auth.push(...("token" in options.auth ? ["--auth", options.auth.token] : ["--user", options.auth.user, "--pass", options.auth.pass]));
  }
  const tls = options.tls === undefined ? [] : ["--tls", "--tlscert", options.tls.certFile, "--tlskey", options.tls.keyFile];
  if (options.tls?.caFile !== undefined) tls.push("--tlsverify", "--tlscacert", options.tls.caFile);
  const launch = async () => {
    proc = spawnManaged(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store.path, ...auth, ...tls]);
    try {
      await waitForPort(port);
    } catch (error) {
      throw new FixtureUnavailableError("nats-server", `did not listen on ${port}:\n${proc.output()}`, { cause: error });
    }
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: store.path,
    runtime: "process",
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      await proc?.stop(signal);
    },
    restart: launch,
    async stop() {
      await proc?.stop("SIGTERM");
      await store.remove();
    },
  };
}
