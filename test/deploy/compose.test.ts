// docker-compose.yml, checked without a Docker engine: Debian's docker-compose (v1) validates it
// offline, and every Retrain service in it is started as an OS process with exactly the environment
// the file gives it — the containers' host names pointed at a nats-server (run with the compose file's
// own nats configuration), an Azurite and an OTLP sink this test starts — and must become ready,
// pass the container health check the file declares, and stop cleanly on SIGTERM.
import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { Cleanup, findExecutable, freePort, spawnManaged, startAzurite, tempDir, waitFor, waitForPort, type AzuriteFixture, type ServiceProcess } from "@retrain/testing";
import { parse } from "yaml";
import { buildAll, root, startService } from "../e2e/processes.js";
import { loadManifests, natsPrefix, setupJobConsumers, streamName } from "./manifests.js";

/** One Retrain service of the compose file (a service built from the Dockerfile with `SERVICE`). */
interface ComposeAppService {
  /** The compose service name (its host name on the compose network). */
  readonly name: string;
  /** The folder under services/ (the build arg). */
  readonly service: string;
  readonly environment: Record<string, string>;
  readonly dependsOn: readonly string[];
  /** `host path → container path` bind mounts. */
  readonly mounts: ReadonlyMap<string, string>;
  /** container port → published port */
  readonly containerPort: number;
  readonly healthcheck: readonly string[];
}

function mapping(value: unknown, what: string): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new Error(`docker-compose.yml: ${what} is not a mapping`);
}

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new Error(`docker-compose.yml: ${what} is not a list of strings`);
  return value as string[];
}

function environmentOf(value: unknown, what: string): Record<string, string> {
  if (Array.isArray(value)) {
    return Object.fromEntries(strings(value, what).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
  }
  return Object.fromEntries(Object.entries(mapping(value, what)).map(([key, v]) => [key, String(v)]));
}

async function readCompose(): Promise<{ app: ComposeAppService[]; all: Record<string, Record<string, unknown>> }> {
  // `merge`: the file shares environment blocks through YAML merge keys (`<<: *platform-env`), as compose does.
  const document = mapping(parse(await readFile(join(root, "docker-compose.yml"), "utf8"), { merge: true }), "the file");
  const services = mapping(document["services"], "services");
  const all: Record<string, Record<string, unknown>> = {};
  const app: ComposeAppService[] = [];
  for (const [name, raw] of Object.entries(services)) {
    const definition = mapping(raw, `services.${name}`);
    all[name] = definition;
    const build = definition["build"];
    if (build === undefined) continue;
    const service = mapping(mapping(build, `services.${name}.build`)["args"], `services.${name}.build.args`)["SERVICE"];
    if (typeof service !== "string") throw new Error(`docker-compose.yml: services.${name}.build.args.SERVICE is missing`);
    const mounts = new Map<string, string>();
    for (const volume of strings(definition["volumes"] ?? [], `services.${name}.volumes`)) {
      const [host, container] = volume.split(":");
      if (host !== undefined && container !== undefined && (host.startsWith(".") || host.startsWith("/"))) mounts.set(container, resolve(root, host));
    }
    const ports = strings(definition["ports"] ?? [], `services.${name}.ports`);
    const containerPort = Number(ports[0]?.split(":").at(-1));
    app.push({
      name,
      service,
      environment: environmentOf(definition["environment"], `services.${name}.environment`),
      dependsOn: Object.keys(mapping(definition["depends_on"] ?? {}, `services.${name}.depends_on`)),
      mounts,
      containerPort,
      healthcheck: strings(mapping(definition["healthcheck"], `services.${name}.healthcheck`)["test"], `services.${name}.healthcheck.test`),
    });
  }
  return { app, all };
}

/** The variable a service reads its port from (`TRAINER_PORT`, `CLASSIC_PROMOTER_PORT`, …). */
const portVariable = (service: string) => `${service.toUpperCase().replace(/-/g, "_")}_PORT`;

describe("docker-compose.yml", () => {
  it("passes docker-compose (v1) config -q (scripts/bootstrap.sh installs docker-compose)", () => {
    const dockerCompose = findExecutable("docker-compose");
    // Not a skip: CI's bootstrap installs docker-compose, so its absence is a broken setup.
    expect(dockerCompose).toBeDefined();
    const result = spawnSync(dockerCompose ?? "docker-compose", ["-f", join(root, "docker-compose.yml"), "config", "-q"], { encoding: "utf8", cwd: root });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("docker-compose config -q rejects a broken file (the validation is not a formality)", async () => {
    const dockerCompose = findExecutable("docker-compose");
    expect(dockerCompose).toBeDefined();
    const dir = await tempDir("retrain-compose-");
    try {
      const broken = join(dir.path, "docker-compose.yml");
      await writeFile(broken, ["services:", "  trainer:", "    image: retrain/trainer:dev", "    depends_on:", "      nats: { condition: when-it-feels-like-it }", "    ports: 8081", ""].join("\n"));
      const result = spawnSync(dockerCompose ?? "docker-compose", ["-f", broken, "config", "-q"], { encoding: "utf8", cwd: dir.path });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/condition|ports|invalid/i);
    } finally {
      await dir.remove();
    }
  });

  describe("every Retrain service with exactly its compose environment", () => {
    const cleanup = new Cleanup();
    let app: ComposeAppService[] = [];
    const started = new Map<string, { process: ServiceProcess; env: Record<string, string> }>();
    let spans = 0;
    let nats: { url: string; monitor: string };
    let azurite: AzuriteFixture;

    beforeAll(async () => {
      buildAll();
      const compose = await readCompose();
      app = compose.app;
      const all = compose.all;

      // nats-server with the compose file's own configuration. Debian's 2.9.10 refuses
      // `sync_interval` (2.10+): that one line is left out here, and only here.
      const natsDefinition = all["nats"] ?? {};
      const command = strings(natsDefinition["command"], "services.nats.command");
      const containerConfig = command[command.indexOf("--config") + 1] ?? "";
      const natsMounts = strings(natsDefinition["volumes"], "services.nats.volumes").map((v) => v.split(":"));
      const hostConfig = natsMounts.find(([, container]) => container === containerConfig)?.[0];
      if (hostConfig === undefined) throw new Error(`the nats service mounts no file at ${containerConfig}`);
      const binary = findExecutable("nats-server");
      if (binary === undefined) throw new Error("nats-server is not installed (scripts/bootstrap.sh installs it)");
      const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout;
      const [major = 0, minor = 0, patch = 0] = (/v(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
      const supportsSyncAlways = major > 2 || (major === 2 && (minor > 10 || (minor === 10 && patch >= 23)));
      let config = await readFile(resolve(root, hostConfig), "utf8");
      if (!supportsSyncAlways) config = config.replace(/^\s*sync_interval:.*$/m, "");
      const dir = await tempDir("retrain-compose-nats-");
      cleanup.add(() => dir.remove());
      // The store is the container's volume there; a private directory here (the server takes it only once).
      await writeFile(join(dir.path, "nats-server.conf"), config.replace(/^(\s*store_dir:).*$/m, `$1 "${join(dir.path, "js")}"`));
      const [port, monitor] = [await freePort(), await freePort()];
      const server = spawnManaged(binary, ["-c", join(dir.path, "nats-server.conf"), "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor)]);
      cleanup.add(() => server.stop());
      const exited = server.exited.then((code) => Promise.reject(new Error(`exited with ${code}`)));
      await Promise.race([waitForPort(port), exited]).catch((error: unknown) => {
        throw new Error(`nats-server with deploy/nats/nats-server.conf did not start:\n${server.output()}`, { cause: error });
      });
      nats = { url: `nats://127.0.0.1:${port}`, monitor: `http://127.0.0.1:${monitor}` };
      // The compose health check's URL, on the same configuration.
      const healthUrl = strings(natsDefinition["healthcheck"] !== undefined ? mapping(natsDefinition["healthcheck"], "nats.healthcheck")["test"] : [], "nats.healthcheck.test").find((a) => a.startsWith("http"));
      if (healthUrl === undefined) throw new Error("the nats service has no HTTP health check");
      await waitFor(async () => (await fetch(healthUrl.replace("127.0.0.1:8222", `127.0.0.1:${monitor}`))).status === 200, { timeoutMs: 10_000, description: "nats /healthz" });

      azurite = await startAzurite();
      cleanup.add(() => azurite.stop());

      // Jaeger's OTLP/HTTP receiver, reduced to counting what arrives.
      const sink = createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          if (req.method === "POST" && req.url === "/v1/traces") spans++;
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      });
      await new Promise<void>((done) => sink.listen(0, "127.0.0.1", done));
      cleanup.add(() => new Promise<void>((done) => sink.close(() => done())));
      const sinkAddress = sink.address();
      const sinkUrl = typeof sinkAddress === "object" && sinkAddress !== null ? `http://127.0.0.1:${sinkAddress.port}` : "";

      const localPorts = new Map<string, number>();
      for (const service of app) localPorts.set(service.name, await freePort());
      const localEnvironment = (service: ComposeAppService): Record<string, string> => {
        const env: Record<string, string> = {};
        for (const [key, value] of Object.entries(service.environment)) {
          let local = value;
          if (key === "NATS_URL") local = nats.url;
          else if (key === "AZURE_STORAGE_CONNECTION_STRING") local = azurite.connectionString;
          else if (key === "OTEL_EXPORTER_OTLP_ENDPOINT") local = sinkUrl;
          else if (service.mounts.has(value)) local = service.mounts.get(value) ?? value;
          else {
            for (const other of app) local = local.replace(`http://${other.name}:${other.containerPort}`, `http://127.0.0.1:${localPorts.get(other.name)}`);
          }
          env[key] = local;
        }
        env[portVariable(service.service)] = String(localPorts.get(service.name));
        return env;
      };

      // Start in depends_on order, as compose would.
      const pending = [...app];
      while (pending.length > 0) {
        const ready = pending.filter((s) => s.dependsOn.every((d) => all[d]?.["build"] === undefined || started.has(d)));
        if (ready.length === 0) throw new Error(`depends_on cycle among ${pending.map((s) => s.name).join(", ")}`);
        await Promise.all(
          ready.map(async (service) => {
            const env = localEnvironment(service);
            const proc = await startService(service.service, portVariable(service.service), env, localPorts.get(service.name));
            cleanup.add(() => proc.process.stop());
            await waitFor(async () => (await fetch(`${proc.url}/readyz`).catch(() => undefined))?.status === 200, {
              timeoutMs: 30_000,
              description: `${service.name} /readyz`,
            }).catch((error: unknown) => {
              throw new Error(`${service.name} did not become ready:\n${proc.process.output()}`, { cause: error });
            });
            started.set(service.name, { process: proc, env });
          }),
        );
        for (const service of ready) pending.splice(pending.indexOf(service), 1);
      }
    }, 180_000);
    afterAll(() => cleanup.run(), 60_000);

    it("covers every service under services/ except the embedded default", async () => {
      const folders = (await readdir(join(root, "services"), { withFileTypes: true })).filter((d) => d.isDirectory() && d.name !== "embedded").map((d) => d.name);
      expect(app.map((s) => s.service).sort()).toEqual(folders.sort());
    });

    it("gives each service its own port variable, equal to the container port it publishes", () => {
      for (const service of app) expect({ service: service.name, port: service.environment[portVariable(service.service)] }).toEqual({ service: service.name, port: String(service.containerPort) });
    });

    it("leaves no compose host name unresolved once the containers are replaced", () => {
      const hostNames = ["nats", "azurite", "jaeger", ...app.map((s) => s.name)];
      const leftovers = [...started.entries()].flatMap(([name, { env }]) =>
        Object.entries(env)
          .filter(([, value]) => hostNames.some((host) => new RegExp(`//${host}[:/]|=${host}[:;]`).test(value)))
          .map(([key, value]) => `${name}: ${key}=${value}`),
      );
      expect(leftovers).toEqual([]);
    });

    it("every service is ready (/readyz 200) and passes the health check compose declares", () => {
      expect([...started.keys()].sort()).toEqual(app.map((s) => s.name).sort());
      for (const service of app) {
        const entry = started.get(service.name);
        if (entry === undefined) throw new Error(`${service.name} was not started`);
        // The image copies deploy/docker/healthcheck.mjs to /app and sets RETRAIN_SERVICE from the build arg.
        const [kind, command, ...args] = service.healthcheck;
        expect([kind, command]).toEqual(["CMD", "node"]);
        const local = args.map((arg) => (arg === "/app/healthcheck.mjs" ? join(root, "deploy", "docker", "healthcheck.mjs") : arg));
        const check = spawnSync(process.execPath, local, { env: { ...entry.env, RETRAIN_SERVICE: service.service }, encoding: "utf8" });
        expect({ service: service.name, status: check.status, stderr: check.stderr }).toEqual({ service: service.name, status: 0, stderr: "" });
      }
    });

    it("exports traces to the OTLP endpoint compose names (Jaeger's 4318)", async () => {
      // Server spans of the readiness calls above are exported by the batch processor within seconds.
      await waitFor(() => spans > 0, { timeoutMs: 30_000, description: "a span batch at the OTLP sink" });
      expect(spans).toBeGreaterThan(0);
    }, 40_000);

    it("the README's walk-through: a first model from churn-initial, the web service published from it, then churn-2.csv promoted to endpoint ep1", async () => {
      // The same calls, in the same order, as README.md "Run the whole system with docker compose".
      const composeConfig = mapping(parse(await readFile(join(root, "deploy", "compose", "retrain.yaml"), "utf8")), "retrain.yaml");
      const workspace = mapping((composeConfig["workspaces"] as unknown[])[0], "workspaces[0]");
      const key = String(mapping(workspace["keys"], "workspaces[0].keys")["primary"]);
      const url = (name: string) => started.get(name)?.process.url ?? "";
      // Publishing from a blob name of the store takes the admin key (compose's RETRAIN_ADMIN_KEY).
      const adminKey = app.find((s) => s.name === "scoring")?.environment["RETRAIN_ADMIN_KEY"] ?? "";
      const call = async (method: string, target: string, body?: string, contentType = "application/json", bearer = key): Promise<{ status: number; json: Record<string, unknown> }> => {
        const response = await fetch(target, { method, headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { "content-type": contentType } : {}) }, ...(body !== undefined ? { body } : {}) });
        const text = await response.text();
        return { status: response.status, json: text === "" ? {} : mapping(JSON.parse(text), `${method} ${target}`) };
      };
      // A run with no target is approved but never "terminal" (nothing is promoted): wait for the outcome.
      const outcomeOf = async (runId: string, done: (run: Record<string, unknown>) => boolean) => {
        let last: unknown;
        return waitFor(
          async () => {
            const run = await call("GET", `${url("registry")}/v1/runs/${runId}`);
            last = run.json;
            return run.status === 200 && done(run.json) && run.json;
          },
          { timeoutMs: 60_000, intervalMs: 200, description: `run ${runId} to end in the registry` },
        ).catch((error: unknown) => {
          throw new Error(`run ${runId} did not end; the registry last said ${JSON.stringify(last)}`, { cause: error });
        });
      };

      const first = await call("PUT", `${url("ingestion")}/v1/pipelines/churn-initial/datasets`, await readFile(join(root, "deploy", "compose", "churn-1.csv"), "utf8"), "text/csv");
      expect(first.status).toBeLessThan(300);
      const firstRun = String(first.json["runId"]);
      expect((await outcomeOf(firstRun, (run) => run["outcome"] === "approved"))["outcome"]).toBe("approved");
      const lineage = await call("GET", `${url("registry")}/v1/runs/${firstRun}/lineage`);
      const blob = String(mapping(lineage.json["model"], "lineage.model")["blob"]);
      const published = await call("POST", `${url("scoring")}/v1/workspaces/demo/webservices`, JSON.stringify({ name: "churn", resourceName: "Churn [trained model]", model: { blob } }), "application/json", adminKey);
      expect({ status: published.status, error: published.json["error"] }).toEqual({ status: 201, error: undefined });

      const second = await call("PUT", `${url("ingestion")}/v1/pipelines/churn/datasets`, await readFile(join(root, "deploy", "compose", "churn-2.csv"), "utf8"), "text/csv");
      const secondRun = String(second.json["runId"]);
      const end = await outcomeOf(secondRun, (run) => run["terminal"] === true);
      expect(end["outcome"]).toBe("promoted");
      const history = await call("GET", `${url("registry")}/v1/targets/history?target=${encodeURIComponent("classic:demo/churn/ep1")}`);
      expect(history.json["value"]).toEqual([expect.objectContaining({ runId: secondRun })]);
    }, 90_000);

    it("the Kubernetes NATS setup job and KEDA triggers name the stream and consumers these services created", async () => {
      // The monitoring endpoint KEDA's nats-jetstream scaler reads, on a server the services set up themselves.
      const jsz = (await (await fetch(`${nats.monitor}/jsz?accounts=true&streams=true&consumers=true&config=true`)).json()) as {
        account_details?: Array<{ stream_detail?: Array<{ name: string; consumer_detail?: Array<{ name: string; config?: { filter_subject?: string } }> }> }>;
      };
      const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
      const manifests = await loadManifests(join(root, "deploy", "k8s"));
      const prefix = natsPrefix(manifests);
      // docker-compose.yml and the manifests deploy under the same prefix; these services ran under compose's.
      expect(prefix).toBe(app[0]?.environment["NATS_PREFIX"]);
      const stream = streams.find((s) => s.name === streamName(prefix));
      expect(stream).toBeDefined();
      const live = new Map((stream?.consumer_detail ?? []).map((c) => [c.name, c.config?.filter_subject]));
      const expected = setupJobConsumers(manifests);
      expect(expected.length).toBeGreaterThan(0);
      for (const consumer of expected) expect({ durable: consumer.durable, filter: live.get(consumer.durable) }).toEqual({ durable: consumer.durable, filter: `${prefix}.${consumer.type}` });
    });

    it("every service stops on SIGTERM with exit code 0 (two-phase shutdown)", async () => {
      const codes = await Promise.all(
        [...started.entries()].map(async ([name, { process: proc }]) => {
          proc.process.child.kill("SIGTERM");
          return { name, code: await proc.process.exited };
        }),
      );
      expect(codes).toEqual([...started.keys()].map((name) => ({ name, code: 0 })));
    }, 60_000);
  });
});
