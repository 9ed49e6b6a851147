import { createHash } from "node:crypto";
import { createBlobUrlHandler, FileSystemBlobStore, AzureBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { apiKeyVerifier, createHttpApp, startHttpServer, type Principal, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, freePort, startAzurite, tempDir, waitFor, type AzuriteFixture } from "@retrain/testing";
import { JobFailure, type JobExecutor } from "./executor.js";
import { JobService } from "./job-service.js";
import { runQueuedJob } from "./job-runner.js";
import { registerBesRoutes } from "./routes.js";

/** A real (small) batch service: counts the input's lines; "FAIL" in the input fails it, "SLOW" waits for cancel. */
const lineCounter: JobExecutor = {
  host: "trainer",
  async describe(workspace, service) {
    if (workspace !== "ws1" || service !== "counter") return undefined;
    return { inputs: ["input1"], outputs: { output1: "dataset", output2: "model" }, globalParameters: { Mode: { required: false } } };
  },
  async run(job, ctx) {
    const chunks: Buffer[] = [];
    for await (const chunk of await ctx.openInput("input1")) chunks.push(Buffer.from(chunk as Buffer));
    const text = Buffer.concat(chunks).toString("utf8");
    if (text.includes("FAIL")) throw new JobFailure("BadInput", "the input says FAIL", "line 2");
    if (text.includes("SLOW")) {
      await new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
    }
    const lines = text.split("\n").filter(Boolean).length;
    return {
      outputs: {
        output1: { body: Buffer.from(`Lines\n${lines}\n`), contentType: "text/csv" },
        output2: { body: Buffer.from(`model of ${lines} lines`), contentType: "application/octet-stream" },
      },
      summary: { lines, mode: job.globalParameters["Mode"] ?? "default" },
    };
  },
  eventsFor: () => [],
};

type Ref = { ConnectionString: string | null; BaseLocation: string; RelativeLocation: string; SasBlobToken: string };
type Status = { StatusCode: string; Results: Record<string, Ref> | null; Details: string | null };
type ErrorBody = { error: { code: string; message: string; details: Array<{ code: string; target?: string }> } };
const json = async <T>(response: Response | Promise<Response>): Promise<T> => (await (await response).json()) as T;

const azuriteCs = "__AZURITE__";
const KEY = "ws1-key";
const OTHER = "ws2-key";

describe("Batch Execution Service v2.0", () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let store: FileSystemBlobStore;
  let azurite: AzuriteFixture;
  let base: string;

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    // Started first: connection strings are held to the same allow-list as URLs, so Azurite's host is on it.
    azurite = await startAzurite();
    cleanup.add(() => azurite.stop());
    const port = await freePort();
    store = new FileSystemBlobStore({ root: dir.path, urlSecret: "s3cret", publicBaseUrl: `http://127.0.0.1:${port}` });
    const bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    const jobs = new JobService({ store, bus, executor: lineCounter, logger: silentLogger(), prefix: "trainer", source: "/test", ownHost: `127.0.0.1:${port}`, allowedHosts: [new URL(azurite.blobEndpoint).host] });
    await bus.subscribe({ group: "trainer-jobs", types: [EventTypes.BatchJobQueued], handler: (e, ctx) => runQueuedJob(e, ctx, jobs, { cancelPollMs: 50 }) });
    const verifyKey = apiKeyVerifier<Principal>([
      [KEY, { name: "ws1/primary", workspace: "ws1", role: "user" }],
      [OTHER, { name: "ws2/primary", workspace: "ws2", role: "user" }],
    ]);
    const { app } = createHttpApp({ serviceName: "bes-test", logger: silentLogger(), routes: (r) => registerBesRoutes(r, { jobs, verifyKey }) });
    const urls = createBlobUrlHandler(store, { secret: "s3cret" });
    server = await startHttpServer((req, res) => {
      if (!urls(req, res)) app(req, res);
    }, { port });
    cleanup.add(() => server.close(0));
    base = `${server.url}/workspaces/ws1/services/counter`;
  });
  afterAll(() => cleanup.run());

  const call = (method: string, path: string, body?: unknown, key = KEY) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  async function sasInput(text: string): Promise<{ BaseLocation: string; RelativeLocation: string; SasBlobToken: string }> {
    const name = `uploads/${createHash("sha1").update(text + Math.random()).digest("hex")}.csv`;
    await store.put(name, Buffer.from(text));
    const url = new URL(await store.readUrl(name, 60_000));
    const encoded = name;
    return { BaseLocation: `${url.origin}/_blobs/`, RelativeLocation: encoded, SasBlobToken: url.search };
  }

  async function pollUntilDone(id: string): Promise<Status> {
    // The documented client protocol: poll the status until it is Finished, Failed or Cancelled.
    return waitFor(async () => {
      const body = await json<Status>(call("GET", `/jobs/${id}?api-version=2.0`));
      return ["Finished", "Failed", "Cancelled"].includes(body.StatusCode) && body;
    }, { timeoutMs: 20_000, intervalMs: 25 });
  }

  it("runs the documented protocol: submit (JSON string id) → start (204) → poll → download via Base+Relative+SAS", async () => {
    const submit = await call("POST", "/jobs?api-version=2.0", { Inputs: { input1: await sasInput("a\nb\nc\n") }, GlobalParameters: { Mode: 7 } });
    expect(submit.status).toBe(200);
    const id = await json<string>(submit);
    expect(typeof id).toBe("string");
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const before = await json<Status>(call("GET", `/jobs/${id}?api-version=2.0`));
    expect(before).toEqual({ StatusCode: "NotStarted", Results: null, Details: null });
    expect((await call("POST", `/jobs/${id}/start?api-version=2.0`)).status).toBe(204);
    const done = await pollUntilDone(id);
    expect(done.StatusCode).toBe("Finished");
    expect(done.Details).toBeNull();
    const out1 = done.Results?.["output1"];
    expect(out1).toMatchObject({ ConnectionString: null });
    expect(out1?.RelativeLocation).toMatch(/output1\.csv$/);
    const csv = await (await fetch(`${out1?.BaseLocation}${out1?.RelativeLocation}${out1?.SasBlobToken}`)).text();
    expect(csv).toBe("Lines\n3\n");
    expect(done.Results?.["output2"]?.RelativeLocation).toMatch(/output2\.ilearner$/);
    // Every GET mints a fresh SAS.
    await waitFor(async () => {
      const again = await json<Status>(call("GET", `/jobs/${id}?api-version=2.0`));
      return again.Results?.["output1"]?.SasBlobToken !== out1?.SasBlobToken;
    });
    const list = await json<Array<{ Id: string }>>(call("GET", "/jobs?api-version=2.0"));
    expect(list.map((j: { Id: string }) => j.Id)).toContain(id);
  });

  it("accepts the legacy single Input and numeric global parameters", async () => {
    const id = await json<string>(call("POST", "/jobs?api-version=2.0", { Input: await sasInput("x\n"), GlobalParameters: { Mode: true } }));
    await call("POST", `/jobs/${id}/start?api-version=2.0`);
    expect((await pollUntilDone(id)).StatusCode).toBe("Finished");
  });

  it("refuses to start a job twice: 400 InvalidOperation / CannotStartJob", async () => {
    const id = await json<string>(call("POST", "/jobs?api-version=2.0", { Inputs: { input1: await sasInput("x\n") } }));
    expect((await call("POST", `/jobs/${id}/start?api-version=2.0`)).status).toBe(204);
    await pollUntilDone(id);
    const again = await call("POST", `/jobs/${id}/start?api-version=2.0`);
    expect(again.status).toBe(400);
    const body = await json<ErrorBody>(again);
    expect(body.error.code).toBe("InvalidOperation");
    expect(body.error.details[0]?.code).toBe("CannotStartJob");
    expect(body.error.message).toContain("Finished");
  });

  it("fails a job on bad input with Details, and the status says Failed", async () => {
    const id = await json<string>(call("POST", "/jobs?api-version=2.0", { Inputs: { input1: await sasInput("a\nFAIL\n") } }));
    await call("POST", `/jobs/${id}/start?api-version=2.0`);
    const done = await pollUntilDone(id);
    expect(done).toEqual({ StatusCode: "Failed", Results: null, Details: "BadInput: the input says FAIL" });
  });

  it("cancels a running job promptly with DELETE (204) and it ends Cancelled", async () => {
    const id = await json<string>(call("POST", "/jobs?api-version=2.0", { Inputs: { input1: await sasInput("SLOW\n") } }));
    await call("POST", `/jobs/${id}/start?api-version=2.0`);
    await waitFor(async () => (await json<Status>(call("GET", `/jobs/${id}?api-version=2.0`))).StatusCode === "Running");
    expect((await call("DELETE", `/jobs/${id}?api-version=2.0`)).status).toBe(204);
    const done = await pollUntilDone(id);
    expect(done.StatusCode).toBe("Cancelled");
  });

  it.each([
    ["an output with the wrong extension", { Inputs: { input1: "SAS" }, Outputs: { output2: { ConnectionString: azuriteCs, RelativeLocation: "c/model.csv" } } }, "BadArgument", "InvalidBlobExtension"],
    ["an unknown output name (case-sensitive)", { Inputs: { input1: "SAS" }, Outputs: { Output1: { ConnectionString: azuriteCs, RelativeLocation: "c/x.csv" } } }, "BadArgument", "InvalidOutputOverrideName"],
    ["no input", {}, "BadArgument", "BatchJobInputsNotSpecified"],
    ["both Input and Inputs", { Input: "SAS", Inputs: { input1: "SAS" } }, "BadArgument", "DuplicateInputInBatchCall"],
    ["an unknown input name", { Inputs: { input9: "SAS" } }, "BadArgument", "InvalidInputNames"],
    ["more inputs than the service takes", { Inputs: { input1: "SAS", input2: "SAS" } }, "BadArgument", "BatchJobInputsTooManySpecified"],
    ["a connection string without a key", { Inputs: { input1: { ConnectionString: "AccountName=x", RelativeLocation: "c/x.csv" } } }, "BadArgument", "InvalidBlobConnectionString"],
    ["a reference that names no blob", { Inputs: { input1: { RelativeLocation: "c/x.csv" } } }, "BadArgument", "InvalidBlob"],
  ])("answers %s with 400 and the classic error body", async (_what, template, code, detail) => {
    const body = JSON.parse(JSON.stringify(template, (_k, v) => (v === "SAS" ? { BaseLocation: "http://127.0.0.1:1/", RelativeLocation: "c/x.csv", SasBlobToken: "?s=1" } : v === azuriteCs ? azurite.connectionString : v)));
    const response = await call("POST", "/jobs?api-version=2.0", body);
    expect(response.status).toBe(400);
    const error = (await json<ErrorBody>(response)).error;
    expect(error.code).toBe(code);
    expect(error.details[0]?.code).toBe(detail);
    expect(typeof error.message).toBe("string");
  });

  it("answers a missing input blob with BlobNotFound at submit", async () => {
    const response = await call("POST", "/jobs?api-version=2.0", { Inputs: { input1: { ConnectionString: azurite.connectionString, RelativeLocation: "nothing/here.csv" } } });
    expect(response.status).toBe(400);
    expect((await json<ErrorBody>(response)).error.details[0]?.code).toBe("BlobNotFound");
  });

  it("reads an input and writes an output by connection string (Azurite), and hands back a working SAS", async () => {
    const container = new AzureBlobStore({ connectionString: azurite.connectionString, container: "bes-data", createContainer: true });
    await container.put("in/data.csv", Buffer.from("1\n2\n3\n4\n"));
    const id = await json<string>(
      call("POST", "/jobs?api-version=2.0", {
        Inputs: { input1: { ConnectionString: azurite.connectionString, RelativeLocation: "bes-data/in/data.csv" } },
        Outputs: { output1: { ConnectionString: azurite.connectionString, RelativeLocation: "/bes-data/out/result.csv" } },
      }),
    );
    await call("POST", `/jobs/${id}/start?api-version=2.0`);
    const done = await pollUntilDone(id);
    expect(done.StatusCode).toBe("Finished");
    const out = done.Results?.["output1"];
    expect(out?.RelativeLocation).toBe("bes-data/out/result.csv");
    expect(out?.SasBlobToken).toMatch(/sig=/);
    expect(await (await fetch(`${out?.BaseLocation}${out?.RelativeLocation}${out?.SasBlobToken}`)).text()).toBe("Lines\n4\n");
    expect((await container.getBuffer("out/result.csv")).body.toString()).toBe("Lines\n4\n");
  });

  it("requires a key (401) and hides other workspaces' services (404)", async () => {
    const none = await fetch(`${base}/jobs?api-version=2.0`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(none.status).toBe(401);
    expect((await json<ErrorBody>(none)).error.code).toBe("Unauthorized");
    const wrong = await call("GET", "/jobs/abc?api-version=2.0", undefined, "not-a-key");
    expect(wrong.status).toBe(401);
    const other = await call("GET", "/jobs?api-version=2.0", undefined, OTHER);
    expect(other.status).toBe(404);
    const missing = await call("GET", "/jobs/0123?api-version=2.0");
    expect(missing.status).toBe(404);
    expect((await json<ErrorBody>(missing)).error.details[0]?.code).toBe("JobNotFound");
  });

  it("serves a swagger document for the service", async () => {
    const swagger = await json<{ swagger: string; definitions: { BatchExecutionRequest: { properties: { Outputs: { properties: Record<string, unknown> } } } } }>(call("GET", "/swagger.json?api-version=2.0"));
    expect(swagger.swagger).toBe("2.0");
    expect(Object.keys(swagger.definitions.BatchExecutionRequest.properties.Outputs.properties)).toEqual(["output1", "output2"]);
  });
});

