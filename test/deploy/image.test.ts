// The Dockerfile, checked without a Docker engine: its runtime stage is read for what must hold
// (non-root numeric user, a node-only HEALTHCHECK, node as PID 1 in exec form), and its pruning step —
// the very `pnpm deploy` command it runs — is run here into a temporary directory; the trainer is then
// started from that output alone, on a real nats-server and Azurite, to prove the pruned
// node_modules is complete (and that the image's health check script finds the service).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { Cleanup, freePort, spawnManaged, startAzurite, startNatsServer, tempDir, uniqueName, waitFor, type ManagedProcess } from "@retrain/testing";
import { root } from "../e2e/processes.js";

const SERVICE = "trainer";
const HEALTHCHECK = join(root, "deploy", "docker", "healthcheck.mjs");

/** The Dockerfile's instructions (continuation lines joined), with the stage each belongs to. */
async function instructions(): Promise<Array<{ stage: string; keyword: string; args: string }>> {
  const text = (await readFile(join(root, "Dockerfile"), "utf8")).replace(/\\\n/g, " ");
  const out: Array<{ stage: string; keyword: string; args: string }> = [];
  let stage = "";
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (match === null || line.trim().startsWith("#")) continue;
    const [, keyword = "", args = ""] = match;
    if (keyword === "FROM") stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? "";
    out.push({ stage, keyword, args: args.trim() });
  }
  return out;
}

function healthcheck(env: Record<string, string>, path = "/healthz"): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [HEALTHCHECK, path], { env, encoding: "utf8" });
  return { status: result.status, stderr: result.stderr };
}

describe("Dockerfile", () => {
  it("runs the service as a non-root numeric user, node as PID 1 (exec form), with a node-only health check", async () => {
    const runtime = (await instructions()).filter((i) => i.stage === "runtime");
    const user = runtime.filter((i) => i.keyword === "USER").at(-1)?.args ?? "";
    // Numeric, so Kubernetes can verify runAsNonRoot; not uid 0.
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(runtime.find((i) => i.keyword === "CMD")?.args).toBe('["node", "dist/main.js"]');
    expect(runtime.find((i) => i.keyword === "STOPSIGNAL")?.args).toBe("SIGTERM");
    expect(runtime.find((i) => i.keyword === "HEALTHCHECK")?.args).toMatch(/CMD \["node", "\/app\/healthcheck\.mjs", "\/healthz"\]$/);
    expect(runtime.find((i) => i.keyword === "COPY" && i.args.includes("healthcheck.mjs"))?.args).toBe("deploy/docker/healthcheck.mjs /app/healthcheck.mjs");
    // Services listen on 127.0.0.1 by default; in a container every one must listen on all interfaces.
    const env = runtime.filter((i) => i.keyword === "ENV").map((i) => i.args).join(" ");
    const services = (await readdir(join(root, "services"), { withFileTypes: true })).filter((d) => d.isDirectory() && d.name !== "embedded");
    for (const service of services) expect(env).toContain(`${service.name.toUpperCase().replace(/-/g, "_")}_HOST=0.0.0.0`);
  });

  it("can build every service: each services/<name> is the package @retrain/<name> with a main.ts (the build arg names both)", async () => {
    const folders = (await readdir(join(root, "services"), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.length).toBeGreaterThan(1);
    for (const folder of folders) {
      const manifest = JSON.parse(await readFile(join(root, "services", folder, "package.json"), "utf8")) as { name?: unknown };
      expect({ folder, name: manifest.name, main: existsSync(join(root, "services", folder, "src", "main.ts")) }).toEqual({ folder, name: `@retrain/${folder}`, main: true });
    }
  });

  describe(`the pruned production output of ${SERVICE} (the Dockerfile's own pnpm deploy)`, () => {
    const cleanup = new Cleanup();
    let out = "";
    let service: ManagedProcess;
    let env: Record<string, string> = {};
    let url = "";

    beforeAll(async () => {
      execFileSync("npx", ["tsc", "-b", join("services", SERVICE)], { cwd: root, stdio: "inherit" });
      const run = (await instructions()).find((i) => i.stage === "build" && i.keyword === "RUN" && /\bpnpm\b.*\bdeploy\b/.test(i.args));
      const command = /pnpm (--filter "@retrain\/\$SERVICE" deploy --prod \/out)/.exec(run?.args ?? "")?.[1];
      if (command === undefined) throw new Error(`the Dockerfile has no 'pnpm --filter "@retrain/$SERVICE" deploy --prod /out' step (found: ${run?.args ?? "none"})`);
      const dir = await tempDir("retrain-deploy-");
      cleanup.add(() => dir.remove());
      out = join(dir.path, "out");
      const args = command.split(" ").map((arg) => arg.replace(/"/g, "").replace("$SERVICE", SERVICE).replace(/^\/out$/, out));
      execFileSync("pnpm", args, { cwd: root, stdio: "pipe" });

      const nats = await startNatsServer();
      cleanup.add(() => nats.stop());
      const azurite = await startAzurite();
      cleanup.add(() => azurite.stop());
      const port = await freePort();
      // Only what the container would get: no PATH, no inherited environment, the output as working directory.
      env = {
        NODE_ENV: "production",
        RETRAIN_SERVICE: SERVICE,
        BUS: "nats",
        NATS_URL: nats.url,
        NATS_PREFIX: uniqueName("img").replace(/[^A-Za-z0-9_-]/g, "-"),
        BLOB: "azure",
        AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AZURE_STORAGE_CONTAINER: uniqueName("img"),
        TRAINER_PORT: String(port),
        LOG_LEVEL: "warn",
      };
      service = spawnManaged(process.execPath, [join(out, "dist", "main.js")], { env, cwd: out });
      cleanup.add(() => service.stop("SIGKILL"));
      url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, description: "the pruned trainer's /readyz" }).catch(
        (error: unknown) => {
          throw new Error(`the trainer did not start from the pruned output:\n${service.output()}`, { cause: error });
        },
      );
    }, 90_000);
    afterAll(() => cleanup.run(), 30_000);

    it("holds the service's dist and its runtime dependencies only, every one inside the output", async () => {
      expect(existsSync(join(out, "dist", "main.js"))).toBe(true);
      const workspace = await readdir(join(out, "node_modules", "@retrain"));
      expect(workspace).toEqual(expect.arrayContaining(["bus", "blob", "bes", "ml", "runtime", "service-kit", "telemetry", "contracts"]));
      // Test support and build tools are development dependencies: not in the image.
      expect(workspace).not.toContain("testing");
      expect(existsSync(join(out, "node_modules", "typescript"))).toBe(false);
      expect(existsSync(join(out, "node_modules", "jest"))).toBe(false);
      // Injected copies, not links back into the repository (the image has no repository).
      for (const name of workspace) expect(await realpath(join(out, "node_modules", "@retrain", name))).toContain(out);
    });

    it("serves from that output alone: ready on NATS and Azure Blob, and the image's health check passes", async () => {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(healthcheck(env)).toEqual({ status: 0, stderr: "" });
      expect(healthcheck(env, "/readyz")).toEqual({ status: 0, stderr: "" });
    });

    it("the health check fails when nothing answers on the service's port", async () => {
      const result = healthcheck({ ...env, TRAINER_PORT: String(await freePort()) });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/\/healthz on port \d+/);
    });

    it("stops on SIGTERM with exit code 0 (node is PID 1 in the image and gets the signal itself)", async () => {
      service.child.kill("SIGTERM");
      expect(await service.exited).toBe(0);
    });
  });
});
