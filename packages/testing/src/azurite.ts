import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { containerRuntimeAvailable } from "./containers.js";
import { freePort, tempDir } from "./names.js";
import { FixtureUnavailableError, spawnManaged, waitForPort } from "./process.js";

/** Azurite's development account (public, documented by Microsoft; not a secret). */
const ACCOUNT_NAME = "devstoreaccount1";
const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER_IMAGE = "mcr.microsoft.com/azure-storage/azurite:3.35.0";
const BLOB_PORT_IN_CONTAINER = 10000;

/** An Azurite blob service a test owns. */
export interface AzuriteFixture {
  /** Connection string for account devstoreaccount1 on this instance. */
  readonly connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly blobEndpoint: string;
  /** The blob service's port on 127.0.0.1 (the mapped port when it runs in a container). */
  readonly port: number;
  /** Stops the service; its in-memory data is gone. */
  stop(): Promise<void>;
}

/**
 * Starts an in-memory Azurite blob service on a free port: in a container when an engine answers,
 * otherwise as a child `node` process running the `azurite` npm package.
 */
export async function startAzurite(): Promise<AzuriteFixture> {
  if (await containerRuntimeAvailable()) return startAzuriteContainer();
  const main = azuriteBlobMain();
  const port = await freePort();
  // Azurite refuses --location together with --inMemoryPersistence; the working directory is where it
  // would put anything else it writes, so give it a private one.
  const workDir = await tempDir("retrain-azurite-");
  const proc = spawnManaged(
    process.execPath,
    [
      main,
      ...["--blobHost", "127.0.0.1", "--blobPort", String(port)],
      // Without --skipApiVersionCheck every call from a newer SDK is a 400; without --disableTelemetry it calls Azure.
      ...["--inMemoryPersistence", "--disableTelemetry", "--silent", "--skipApiVersionCheck"],
    ],
    { cwd: workDir.path },
  );
  const exitedEarly = proc.exited.then((code) => {
    throw new Error(`exited with code ${code} before listening`);
  });
  exitedEarly.catch(() => undefined); // once it is listening, a later exit is expected (stop)
  try {
    await Promise.race([waitForPort(port), exitedEarly]);
  } catch (error) {
    await proc.stop("SIGKILL");
    await workDir.remove();
    throw new FixtureUnavailableError("azurite", `did not listen on ${port}:\n${proc.output()}`, { cause: error });
  }
  return {
    ...fixtureFor("127.0.0.1", port),
    async stop() {
      // In-memory state has nothing to flush, and a graceful close would wait on clients' keep-alive sockets.
      await proc.stop("SIGKILL");
      await workDir.remove();
    },
  };
}

async function startAzuriteContainer(): Promise<AzuriteFixture> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer(CONTAINER_IMAGE)
    .withCommand([
      "azurite-blob",
      ...["--blobHost", "0.0.0.0", "--blobPort", String(BLOB_PORT_IN_CONTAINER)],
      ...["--inMemoryPersistence", "--disableTelemetry", "--silent", "--skipApiVersionCheck"],
    ])
    .withExposedPorts(BLOB_PORT_IN_CONTAINER)
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  return {
    ...fixtureFor(container.getHost(), container.getMappedPort(BLOB_PORT_IN_CONTAINER)),
    async stop() {
      await container.stop();
    },
  };
}

function fixtureFor(host: string, port: number): Omit<AzuriteFixture, "stop"> {
  const blobEndpoint = `http://${host}:${port}/${ACCOUNT_NAME}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    blobEndpoint,
    port,
  };
}

/**
 * Path of Azurite's blob entry point. Resolved through @retrain/testing's own dependencies without
 * `import.meta` (jest runs these sources as CommonJS): walk up from the working directory to this
 * package's manifest — in the workspace or under node_modules — and resolve `azurite` from there.
 */
function azuriteBlobMain(): string {
  const tried: string[] = [];
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const manifests = [
      join(dir, "package.json"),
      join(dir, "packages", "testing", "package.json"),
      join(dir, "node_modules", "@retrain", "testing", "package.json"),
    ];
    for (const manifest of manifests) {
      if (!isTestingManifest(manifest)) continue;
      tried.push(manifest);
      try {
        const azuriteManifest = createRequire(manifest).resolve("azurite/package.json");
        const main = join(dirname(azuriteManifest), "dist", "src", "blob", "main.js");
        if (existsSync(main)) return main;
      } catch {
        // not installed next to this copy; keep looking
      }
    }
    if (dirname(dir) === dir) break;
  }
  throw new FixtureUnavailableError(
    "azurite",
    `no container engine answers and the azurite package was not found next to @retrain/testing ` +
      `(looked from ${process.cwd()}${tried.length > 0 ? `; tried ${tried.join(", ")}` : ""}); run pnpm install`,
  );
}

function isTestingManifest(path: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof parsed === "object" && parsed !== null && (parsed as { name?: unknown }).name === "@retrain/testing";
  } catch {
    return false;
  }
}
