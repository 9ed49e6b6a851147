import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { watchedStore } from "@retrain/blob/testing";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus, type EventBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, randomEventId, ulid, type AnyEvent, type CloudEvent } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createIngestion, type Ingestion, type IngestionDeps } from "./app.js";
import type { RunRecord } from "./runs.js";

const KEY_A = "ws-a-primary-key-0123456789";
const KEY_B = "ws-b-primary-key-0123456789";
type DataArrivedEvent = CloudEvent<typeof EventTypes.DataArrived>;
type Json = Record<string, unknown>;
type ErrorAnswer = { error: { code: string; message: string; details?: Array<{ code: string; target?: string; message: string }> } };
type RunAnswer = { runId: string; runSequence: number; deduplicated: boolean };

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const csv = (rows: number, seed = 1) => ["x1,x2,label", ...Array.from({ length: rows }, (_, i) => `${(i * seed) % 97},${i % 13},${i % 2}`)].join("\n") + "\n";

/** A MemoryBus that also records every publish, in order, as it happens (and can be made to fail). */
class RecordingBus extends MemoryBus {
  readonly published: AnyEvent[] = [];
  failing = false;
  override async publish(...args: Parameters<EventBus["publish"]>) {
    if (this.failing) throw new Error("broker unreachable (injected)");
    this.published.push(args[0]);
    return super.publish(...args);
  }
  dataArrived(pipeline?: string): DataArrivedEvent[] {
    return this.published.filter((e): e is DataArrivedEvent => e.type === EventTypes.DataArrived && (pipeline === undefined || e.data.pipeline === pipeline));
  }
}

interface Harness {
  url: string;
  ingestion: Ingestion;
  bus: RecordingBus;
}

describe("ingestion: pipelines, the doors by which data arrives, and runs' identity", () => {
  const cleanup = new Cleanup();
  let store: FileSystemBlobStore;
  let main: Harness;
  let upstream: Server;
  let upstreamHost: string;
  const files = new Map<string, string>();
  let clock = new Date("2026-03-02T10:00:00Z");

  async function start(overrides: Partial<IngestionDeps> = {}, bus = new RecordingBus({ logger: silentLogger() })): Promise<Harness> {
    cleanup.add(() => bus.close({ graceMs: 0 }));
    const ingestion = createIngestion({
      store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ workspaces: [{ id: "ws-a", keys: { primary: KEY_A } }, { id: "ws-b", keys: { primary: KEY_B } }] }),
      container: "retrain",
      maxDatasetBytes: 64 * 1024,
      allowedHosts: ["*.blob.core.windows.net", upstreamHost],
      now: () => clock,
      ...overrides,
    });
    const { app } = createHttpApp({ serviceName: "ingestion", logger: silentLogger(), routes: (r) => ingestion.registerRoutes(r) });
    const server: RunningServer = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    await ingestion.start();
    cleanup.add(() => ingestion.stop(0));
    return { url: server.url, ingestion, bus };
  }

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path });
    upstream = createServer((req, res) => {
      const body = files.get(req.url ?? "");
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/csv" }).end(body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    cleanup.add(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
    upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    main = await start();
  });
  afterAll(() => cleanup.run());

  const call = (h: Harness, method: string, path: string, body?: unknown, key = KEY_A, headers: Record<string, string> = {}) =>
    fetch(`${h.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
  const json = async <T>(response: Response | Promise<Response>): Promise<T> => (await (await response).json()) as T;

  const definition = (overrides: Json = {}): Json => ({
    trainingWebService: { workspace: "ws-a", service: "churn-training" },
    evaluation: { mode: "automatic", primaryMetric: "AUC", threshold: 0.7 },
    targets: [{ kind: "classic", workspace: "ws-a", webService: "churn", endpoint: "ep1", resourceName: "Churn [trained model]" }],
    split: { fraction: 0.25, seed: 7 },
    ...overrides,
  });
  async function pipeline(name: string, overrides: Json = {}, h = main): Promise<void> {
    const put = await call(h, "PUT", `/v1/pipelines/${name}`, definition(overrides));
    expect([200, 201]).toContain(put.status);
  }
  const upload = (name: string, body: string | Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}, h = main) =>
    fetch(`${h.url}/v1/pipelines/${name}/datasets`, {
      method: "PUT",
      headers: { authorization: `Bearer ${KEY_A}`, "content-type": "text/csv", ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
  async function datasetBlobs(name: string): Promise<string[]> {
    const out: string[] = [];
    for await (const blob of store.list(`ingestion/datasets/${name}/`)) out.push(blob.name);
    return out;
  }

  it("defines pipelines over HTTP within the caller's workspace", async () => {
    const put = await call(main, "PUT", "/v1/pipelines/defs", definition({ columns: ["x1", "x2", "label"], schedule: "0 3 * * 1-5" }));
    expect(put.status).toBe(201);
    expect(await json<Json>(call(main, "GET", "/v1/pipelines/defs"))).toMatchObject({ name: "defs", schedule: "0 3 * * 1-5", columns: ["x1", "x2", "label"] });
    expect((await call(main, "PUT", "/v1/pipelines/defs", definition())).status).toBe(200);
    const list = await json<{ value: Array<{ name: string }> }>(call(main, "GET", "/v1/pipelines"));
    expect(list.value.map((p) => p.name)).toContain("defs");
    // Another workspace's key neither sees nor takes it over.
    expect((await call(main, "GET", "/v1/pipelines/defs", undefined, KEY_B)).status).toBe(404);
    expect((await json<{ value: unknown[] }>(call(main, "GET", "/v1/pipelines", undefined, KEY_B))).value).toEqual([]);
    const hijack = await call(main, "PUT", "/v1/pipelines/defs", definition({ trainingWebService: { workspace: "ws-b", service: "s" } }), KEY_B);
    expect(hijack.status).toBe(404);
    const badCron = await json<ErrorAnswer>(call(main, "PUT", "/v1/pipelines/defs", definition({ schedule: "61 * * * *" })));
    expect(badCron.error.code).toBe("BadArgument");
    expect(badCron.error.details?.[0]?.message).toMatch(/minute/);
    expect((await call(main, "GET", "/v1/pipelines/defs", undefined, "not-a-key")).status).toBe(401);
  });

  it("turns an upload into one DataArrived with the stored dataset, the frozen plan and sequence 1", async () => {
    await pipeline("upload", { columns: ["label", "x1", "x2"] });
    const body = csv(50);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const response = await upload("upload", body, { "x-retrain-filename": "my data.csv", traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(response.status).toBe(202);
    const answer = await json<RunAnswer>(response);
    expect(answer).toMatchObject({ runSequence: 1, deduplicated: false });
    const [event, ...more] = main.bus.dataArrived("upload");
    expect(more).toHaveLength(0);
    const name = `ingestion/datasets/upload/${answer.runId}.csv`;
    const head = await store.head(name);
    expect(event?.data).toMatchObject({
      runId: answer.runId,
      pipeline: "upload",
      runSequence: 1,
      trigger: { kind: "upload", by: "key:ws-a/primary" },
      dataset: { container: "retrain", name, etag: head?.etag, size: Buffer.byteLength(body), sha256: sha(body) },
      plan: { pipeline: "upload", runSequence: 1, trainingWebService: { workspace: "ws-a", service: "churn-training" }, split: { fraction: 0.25, seed: 7 } },
    });
    expect(event?.traceparent?.split("-")[1]).toBe(traceId);
    expect(head?.metadata["filename"]).toBe("my%20data.csv");
    expect((await store.getBuffer(name)).body.toString()).toBe(body);
    const record = await json<RunRecord>(call(main, "GET", `/v1/pipelines/upload/runs/${answer.runId}`));
    expect(record).toMatchObject({ runSequence: 1, eventId: event?.id, dataset: { sha256: sha(body) } });
    expect((await main.ingestion.runs.state("upload"))?.outbox).toEqual([]);
  });

  it("numbers runs 1, 2, 3 and gives concurrent uploads distinct sequences", async () => {
    await pipeline("seq");
    const sequences: number[] = [];
    for (const seed of [1, 2, 3]) sequences.push((await json<RunAnswer>(upload("seq", csv(20, seed)))).runSequence);
    expect(sequences).toEqual([1, 2, 3]);
    const concurrent = await Promise.all([4, 5, 6, 7, 8, 9].map((seed) => json<RunAnswer>(upload("seq", csv(20 + seed, seed)))));
    expect(concurrent.map((a) => a.runSequence).sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
    const published = main.bus.dataArrived("seq").map((e) => e.data.runSequence).sort((a, b) => a - b);
    expect(published).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(main.bus.dataArrived("seq").map((e) => e.id)).size).toBe(9);
  });

  it("answers identical content with the existing run and publishes nothing new", async () => {
    await pipeline("dedupe");
    const body = csv(30, 4);
    const first = await json<RunAnswer>(upload("dedupe", body));
    const again = await upload("dedupe", body, { "content-type": "application/octet-stream" });
    expect(again.status).toBe(200);
    expect(await json<RunAnswer>(again)).toEqual({ runId: first.runId, runSequence: first.runSequence, deduplicated: true });
    const racing = await Promise.all([1, 2, 3].map(() => json<RunAnswer>(upload("dedupe", csv(31, 4)))));
    expect(new Set(racing.map((r) => r.runId)).size).toBe(1);
    expect(main.bus.dataArrived("dedupe")).toHaveLength(2);
    expect(await datasetBlobs("dedupe")).toHaveLength(2);
  });

  it("refuses bad uploads with a code, publishes nothing and leaves no blob behind", async () => {
    await pipeline("bad", { columns: ["x1", "x2", "label"] });
    const expectError = async (response: Response, status: number, code: string) => {
      expect(response.status).toBe(status);
      const body = await json<ErrorAnswer>(response);
      expect(body.error.code).toBe(code);
      return body;
    };
    const header = await expectError(await upload("bad", "x1,x3,label,extra\n1,2,3,4\n"), 400, "CsvHeaderMismatch");
    expect(header.error.message).toContain("missing 'x2'");
    expect(header.error.message).toContain("unexpected 'x3', 'extra'");
    expect(header.error.details?.map((d) => d.target)).toEqual(["x2", "x3", "extra"]);
    await expectError(await upload("bad", ""), 400, "EmptyDataset");
    await expectError(await upload("bad", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00])), 400, "NotCsv");
    await expectError(await upload("bad", "\u0001\u0002\u0003\u0004\u0005\u0006x1,x2,label\n"), 400, "NotCsv");
    await expectError(await upload("bad", "x1,x2,label\n" + "1,2,0\n".repeat(20_000)), 413, "RequestEntityTooLarge");
    // Chunked, so the limit is only found while streaming.
    const chunk = new TextEncoder().encode("1,2,0\n".repeat(2000));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode("x1,x2,label\n"));
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    await expectError(await upload("bad", stream), 413, "RequestEntityTooLarge");
    await expectError(await upload("bad", "x1,x2,label\n", { "content-type": "image/png" }), 415, "UnsupportedMediaType");
    await expectError(await upload("nope", "x1,x2,label\n"), 404, "PipelineNotFound");
    expect(main.bus.dataArrived("bad")).toEqual([]);
    expect(await datasetBlobs("bad")).toEqual([]);
    expect(await main.ingestion.runs.state("bad")).toBeUndefined();
  });

  describe("POST /v1/events (CloudEvents HTTP binding)", () => {
    const structured = (event: Json, headers: Record<string, string> = {}) =>
      call(main, "POST", "/v1/events", event, KEY_A, { "content-type": "application/cloudevents+json", ...headers });
    const datasetAvailable = (data: Json, extra: Json = {}): Json => ({
      specversion: "1.0",
      id: randomEventId(),
      source: "/contoso/etl",
      type: EventTypes.DatasetAvailable,
      time: new Date().toISOString(),
      data,
      ...extra,
    });

    it("copies a dataset from an allowed URL and starts a run, continuing the event's trace", async () => {
      await pipeline("upstream");
      const body = csv(40, 3);
      files.set("/exports/day1.csv", body);
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const response = await structured(datasetAvailable({ pipeline: "upstream", dataset: { url: `http://${upstreamHost}/exports/day1.csv` }, sha256: sha(body), by: "etl" }, { traceparent }));
      expect(response.status).toBe(202);
      const answer = await json<RunAnswer>(response);
      const [event] = main.bus.dataArrived("upstream");
      expect(event?.data).toMatchObject({ runId: answer.runId, runSequence: 1, trigger: { kind: "event", by: "etl" }, dataset: { sha256: sha(body), size: Buffer.byteLength(body) } });
      expect(event?.traceparent).toBe(traceparent);
      // Binary mode, same content: the known sha256 answers without a download.
      const binary = await call(main, "POST", "/v1/events", { pipeline: "upstream", dataset: { url: `http://${upstreamHost}/exports/day1.csv` } }, KEY_A, {
        "ce-specversion": "1.0",
        "ce-id": randomEventId(),
        "ce-source": "/contoso/etl",
        "ce-type": EventTypes.DatasetAvailable,
      });
      expect(binary.status).toBe(200);
      expect(await json<RunAnswer>(binary)).toMatchObject({ runId: answer.runId, deduplicated: true });
      // A blob already in the store is copied in too.
      await store.put("uploads/day2.csv", csv(41, 3));
      const fromBlob = await structured(datasetAvailable({ pipeline: "upstream", dataset: { blobName: "uploads/day2.csv" } }));
      expect(fromBlob.status).toBe(202);
      expect(main.bus.dataArrived("upstream").map((e) => e.data.runSequence)).toEqual([1, 2]);
    });

    it("refuses other event types, invalid CloudEvents, disallowed hosts and private blobs, publishing nothing", async () => {
      await pipeline("upstream-bad");
      const before = main.bus.published.length;
      const approved = createEvent(EventTypes.ModelApproved, exampleData(EventTypes.ModelApproved), { source: "/evil" });
      const notAccepted = await json<ErrorAnswer>(structured(approved as unknown as Json));
      expect(notAccepted.error.code).toBe("EventTypeNotAccepted");
      const noId = datasetAvailable({ pipeline: "upstream-bad", dataset: { url: `http://${upstreamHost}/x.csv` } });
      delete noId["id"];
      const invalid = await json<ErrorAnswer>(structured(noId));
      expect(invalid.error.code).toBe("InvalidCloudEvent");
      expect(invalid.error.details?.[0]?.target).toBe("id");
      const badData = await json<ErrorAnswer>(structured(datasetAvailable({ pipeline: "upstream-bad", dataset: {} })));
      expect(badData.error.details?.[0]?.target).toMatch(/^data\.dataset/);
      const notCe = await call(main, "POST", "/v1/events", { pipeline: "upstream-bad" });
      expect((await json<ErrorAnswer>(notCe)).error.code).toBe("InvalidCloudEvent");
      const elsewhere = await structured(datasetAvailable({ pipeline: "upstream-bad", dataset: { url: "http://169.254.169.254/latest/meta-data" } }));
      expect(elsewhere.status).toBe(400);
      expect((await json<ErrorAnswer>(elsewhere)).error.code).toBe("UrlNotAllowed");
      const privateBlob = await structured(datasetAvailable({ pipeline: "upstream-bad", dataset: { blobName: "ingestion/state/upload.json" } }));
      expect(privateBlob.status).toBe(400);
      const missing = await structured(datasetAvailable({ pipeline: "upstream-bad", dataset: { url: `http://${upstreamHost}/missing.csv` } }));
      expect((await json<ErrorAnswer>(missing)).error.code).toBe("DatasetNotFound");
      files.set("/exports/lying.csv", csv(5));
      const lying = await structured(datasetAvailable({ pipeline: "upstream-bad", dataset: { url: `http://${upstreamHost}/exports/lying.csv` }, sha256: "0".repeat(64) }));
      expect((await json<ErrorAnswer>(lying)).error.code).toBe("Sha256Mismatch");
      const otherWorkspace = await call(main, "POST", "/v1/events", datasetAvailable({ pipeline: "upstream-bad", dataset: { blobName: "uploads/day2.csv" } }), KEY_B, {
        "content-type": "application/cloudevents+json",
      });
      expect(otherWorkspace.status).toBe(404);
      expect(main.bus.published.length).toBe(before);
      expect(await datasetBlobs("upstream-bad")).toEqual([]);
    });

    it("names only blobs under the landing prefixes or datasets of the caller's own pipelines; never another service's documents", async () => {
      await pipeline("landing");
      await store.put("elsewhere/day.csv", csv(30, 3));
      await store.put("notifier/subscriptions/s1.json", '{"secret":"whsec_x"}');
      for (const blobName of ["elsewhere/day.csv", "notifier/subscriptions/s1.json", "keys/keyring.json", "registry/runs/x.json", "uploads/../keys/keyring.json"]) {
        const answer = await structured(datasetAvailable({ pipeline: "landing", dataset: { blobName } }));
        const body = await json<ErrorAnswer>(answer);
        expect({ blobName, status: answer.status, code: body.error.code }).toEqual({ blobName, status: 400, code: "BadArgument" });
        expect(body.error.message).toContain("'uploads/'");
      }
      expect(await datasetBlobs("landing")).toEqual([]);
      // A dataset of one of the caller's pipelines can be named (the "upstream" pipeline's first dataset).
      const [own] = await datasetBlobs("upstream");
      const fromOwn = await structured(datasetAvailable({ pipeline: "landing", dataset: { blobName: own ?? "" } }));
      expect(fromOwn.status).toBe(202);

      // Per-workspace landing zones: {workspace} is the caller's workspace.
      const zoned = await start({ datasetPrefixes: ["landing/{workspace}/"] });
      await pipeline("zoned", {}, zoned);
      await store.put("landing/ws-a/day.csv", csv(31, 3));
      await store.put("landing/ws-b/day.csv", csv(32, 3));
      const post = (blobName: string) =>
        call(zoned, "POST", "/v1/events", datasetAvailable({ pipeline: "zoned", dataset: { blobName } }), KEY_A, { "content-type": "application/cloudevents+json" });
      expect((await post("landing/ws-b/day.csv")).status).toBe(400);
      expect((await post("uploads/day2.csv")).status).toBe(400);
      expect((await post("landing/ws-a/day.csv")).status).toBe(202);
    });

    it("closes a store blob it opened, also when the dataset is refused half-read (no file handle left to the garbage collector)", async () => {
      const watch = watchedStore(store);
      const watched = await start({ store: watch.store });
      await pipeline("strict", { columns: ["a", "b", "label"] }, watched);
      await pipeline("lenient", {}, watched);
      // Larger than a read chunk, so the refusal (at the header) leaves most of it unread.
      await store.put("uploads/wrong-header.csv", `x,y,z\n${"1,2,3\n".repeat(100_000)}`);
      await store.put("uploads/fine.csv", csv(34, 3));
      const refused = await call(watched, "POST", "/v1/events", datasetAvailable({ pipeline: "strict", dataset: { blobName: "uploads/wrong-header.csv" } }), KEY_A, {
        "content-type": "application/cloudevents+json",
      });
      expect(refused.status).toBe(400);
      const accepted = await call(watched, "POST", "/v1/events", datasetAvailable({ pipeline: "lenient", dataset: { blobName: "uploads/fine.csv" } }), KEY_A, {
        "content-type": "application/cloudevents+json",
      });
      expect(accepted.status).toBe(202);
      expect(watch.opened.length).toBeGreaterThanOrEqual(2);
      expect(watch.opened.map((body) => body.destroyed)).toEqual(watch.opened.map(() => true));
    });
  });

  describe("POST /v1/hooks/blob-created (Event Grid)", () => {
    const hook = (body: unknown, query = `?code=${KEY_A}`) =>
      fetch(`${main.url}/v1/hooks/blob-created${query}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const gridEvent = (eventType: string, subject: string, data: Json): Json => ({
      id: randomEventId(),
      eventType,
      subject,
      eventTime: new Date().toISOString(),
      dataVersion: "1",
      topic: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/contoso",
      data,
    });

    it("answers the subscription-validation handshake", async () => {
      const response = await hook([gridEvent("Microsoft.EventGrid.SubscriptionValidationEvent", "", { validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" })]);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" });
      expect((await hook([], "")).status).toBe(401);
    });

    it("starts a run for a BlobCreated under a pipeline's container and prefix, and ignores others", async () => {
      await pipeline("grid", { trigger: { blobCreated: { container: "landing", prefix: "churn/" } } });
      const body = csv(25, 6);
      files.set("/landing/churn/2026-03-02.csv", body);
      const url = `http://${upstreamHost}/landing/churn/2026-03-02.csv`;
      const matching = gridEvent("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/landing/blobs/churn/2026-03-02.csv", { url, api: "PutBlob" });
      const other = gridEvent("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/landing/blobs/other/x.csv", { url });
      const response = await hook([matching, other]);
      expect(response.status).toBe(200);
      const answer = await json<{ runs: Array<RunAnswer & { pipeline: string; eventId: string }>; ignored: string[] }>(response);
      expect(answer.runs).toEqual([expect.objectContaining({ pipeline: "grid", eventId: matching["id"], runSequence: 1, deduplicated: false })]);
      expect(answer.ignored).toEqual([other["id"]]);
      const [event, ...more] = main.bus.dataArrived("grid");
      expect(more).toEqual([]);
      expect(event?.data).toMatchObject({ trigger: { kind: "blob-created", by: "landing/churn/2026-03-02.csv" }, dataset: { sha256: sha(body) } });
      // Event Grid redelivers: the same content is the same run.
      const again = await json<{ runs: RunAnswer[] }>(hook([matching]));
      expect(again.runs[0]).toMatchObject({ runId: event?.data.runId, deduplicated: true });
    });

    it("refuses a malformed delivery as a whole", async () => {
      const before = main.bus.published.length;
      const good = gridEvent("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/landing/blobs/churn/y.csv", { url: `http://${upstreamHost}/landing/churn/2026-03-02.csv` });
      for (const body of [{ not: "an array" }, [], [good, { eventType: "Microsoft.Storage.BlobCreated" }], [gridEvent("Microsoft.Storage.BlobCreated", "/nonsense", { url: "http://x" })], [gridEvent("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/c/blobs/p", {})]]) {
        const response = await hook(body);
        expect(response.status).toBe(400);
        expect((await json<ErrorAnswer>(response)).error.code).toBe("MalformedEvent");
      }
      expect(main.bus.published.length).toBe(before);
    });
  });

  it("re-trains on the latest dataset when a schedule matches (injected clock), once per minute", async () => {
    await pipeline("cron", { schedule: "*/5 * * * *" });
    clock = new Date("2026-03-02T10:03:10Z");
    expect(await main.ingestion.tick()).toEqual([]); // no dataset yet (and 10:03 does not match)
    const first = await json<RunAnswer>(upload("cron", csv(12, 9)));
    clock = new Date("2026-03-02T10:05:30Z");
    const ticked = await main.ingestion.tick();
    expect(ticked).toEqual([expect.objectContaining({ pipeline: "cron", runSequence: 2 })]);
    expect(await main.ingestion.tick()).toEqual([]);
    // Another replica ticking the same minute starts nothing either.
    const replica = await start();
    expect(await replica.ingestion.tick(clock)).toEqual([]);
    const events = main.bus.dataArrived("cron");
    expect(events.map((e) => e.data.trigger.kind)).toEqual(["upload", "schedule"]);
    expect(events[1]?.data.dataset).toEqual(events[0]?.data.dataset);
    expect(events[0]?.data.runId).toBe(first.runId);
    // The timer does the same on its own.
    clock = new Date("2026-03-02T10:10:00Z");
    const timed = await start({ scheduleIntervalMs: 20 });
    const scheduled = await waitFor(() => timed.bus.dataArrived("cron").find((e) => e.data.trigger.kind === "schedule"), { description: "a scheduled run" });
    expect(scheduled.data.runSequence).toBe(3);
    // Its timer also relays every pipeline's outbox every 20 ms: left running, it would publish what later
    // tests leave in an outbox on purpose (the crash test's committed, unpublished run).
    await timed.ingestion.stop(0);
  });

  it("re-runs the latest or a given dataset on request, always as a new run", async () => {
    await pipeline("rerun");
    expect((await json<ErrorAnswer>(call(main, "POST", "/v1/pipelines/rerun/runs", {}))).error.code).toBe("NoDataset");
    const a = await json<RunAnswer>(upload("rerun", csv(10, 1)));
    await upload("rerun", csv(10, 2));
    const latest = await call(main, "POST", "/v1/pipelines/rerun/runs", {});
    expect(latest.status).toBe(202);
    expect(await json<RunAnswer>(latest)).toMatchObject({ runSequence: 3, deduplicated: false });
    const given = await json<RunAnswer>(call(main, "POST", "/v1/pipelines/rerun/runs", { runId: a.runId }));
    expect(given.runSequence).toBe(4);
    const events = main.bus.dataArrived("rerun");
    expect(events.map((e) => e.data.trigger.kind)).toEqual(["upload", "upload", "rerun", "rerun"]);
    expect(events[3]?.data.dataset).toEqual(events[0]?.data.dataset);
    expect(events[2]?.data.dataset).toEqual(events[1]?.data.dataset);
    expect((await call(main, "POST", "/v1/pipelines/rerun/runs", { runId: "01NOPE" })).status).toBe(404);
    expect((await call(main, "POST", "/v1/pipelines/rerun/runs", {}, KEY_B)).status).toBe(404);
  });

  it("keeps an earlier run's plan when the pipeline changes afterwards", async () => {
    await pipeline("frozen");
    const before = await json<RunAnswer>(upload("frozen", csv(10, 5)));
    await pipeline("frozen", { split: { fraction: 0.5, seed: 1 }, targets: [], evaluation: { mode: "manual", primaryMetric: "Accuracy" } });
    const after = await json<RunAnswer>(upload("frozen", csv(11, 5)));
    const early = await json<RunRecord>(call(main, "GET", `/v1/pipelines/frozen/runs/${before.runId}`));
    const late = await json<RunRecord>(call(main, "GET", `/v1/pipelines/frozen/runs/${after.runId}`));
    expect(early.plan).toMatchObject({ split: { fraction: 0.25, seed: 7 }, evaluation: { mode: "automatic" }, runSequence: 1 });
    expect(early.plan.targets).toHaveLength(1);
    expect(late.plan).toMatchObject({ split: { fraction: 0.5, seed: 1 }, evaluation: { mode: "manual" }, targets: [], runSequence: 2 });
    const [e1, e2] = main.bus.dataArrived("frozen");
    expect(e1?.data.plan).toEqual(early.plan);
    expect(e2?.data.plan).toEqual(late.plan);
    const list = await json<{ value: RunRecord[] }>(call(main, "GET", "/v1/pipelines/frozen/runs"));
    expect(list.value.map((r) => r.runSequence)).toEqual([1, 2]);
  });

  it("relays a run's DataArrived after a crash between the commit and the publish, once", async () => {
    await pipeline("crash");
    // A replica whose broker is down: the run commits (state + outbox), the publish fails.
    const down = new RecordingBus({ logger: silentLogger() });
    down.failing = true;
    const crashed = await start({}, down);
    const answer = await json<RunAnswer>(upload("crash", csv(9, 9), {}, crashed));
    expect(answer.runSequence).toBe(1);
    expect((await main.ingestion.runs.state("crash"))?.outbox).toHaveLength(1);
    // And a hand-written leftover: a committed run whose record was never written.
    const runId = ulid();
    const dataset = { container: "retrain", name: `ingestion/datasets/crash/${runId}.csv`, etag: '"x"', size: 3, sha256: sha("a\n1") };
    const plan = { pipeline: "crash", runSequence: 2, trainingWebService: { workspace: "ws-a", service: "churn-training" }, evaluation: { mode: "manual" as const, primaryMetric: "AUC" as const }, targets: [], split: { fraction: 0.2, seed: 1 } };
    const leftover = createEvent(EventTypes.DataArrived, { runId, pipeline: "crash", runSequence: 2, trigger: { kind: "upload" }, dataset, plan }, { source: "/retrain/ingestion" });
    const state = await main.ingestion.runs.state("crash");
    await store.put("ingestion/state/crash.json", JSON.stringify({ ...state, lastSequence: 2, outbox: [...(state?.outbox ?? []), leftover] }));
    const restarted = await start();
    const relayed = restarted.bus.dataArrived("crash");
    expect(relayed.map((e) => e.data.runSequence)).toEqual([1, 2]);
    expect(relayed[0]?.data.runId).toBe(answer.runId);
    expect(relayed[1]?.id).toBe(leftover.id);
    expect((await restarted.ingestion.runs.state("crash"))?.outbox).toEqual([]);
    expect((await restarted.ingestion.runs.run("crash", runId))?.runSequence).toBe(2);
    const again = await start();
    expect(again.bus.dataArrived("crash")).toEqual([]);
    expect(await json<RunAnswer>(upload("crash", csv(9, 10), {}, again))).toMatchObject({ runSequence: 3 });
  });
});
