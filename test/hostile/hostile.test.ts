// The hostile-input corpus against every service as its own process (nats-server, Azurite): traversal
// and control-character names, a 100 MB single-line CSV, unterminated quotes, 100k columns, invalid
// UTF-8, deeply nested JSON, huge numbers, wrong content types and oversize events. Each is answered
// with a 4xx carrying a code, or a dead-letter entry — never a crash — while the RSS of every service
// process is sampled from /proc and must stay under 512 MB.
import { request } from "node:http";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "../e2e/deployment.js";
import { buildAll } from "../e2e/processes.js";
import { churnCsv } from "../e2e/churn.js";
import { sampleRss, type RssSampler } from "./rss.js";

const RSS_LIMIT = 512 * 1024 * 1024;
const MB = 1024 * 1024;

/** An answer: status and body text. */
interface Reply {
  readonly status: number;
  readonly text: string;
}

/**
 * One request over node:http. With `writeAtMost` only the headers and that much of the body go out
 * (the whole length still declared) and the server must answer from them alone, within 10 s.
 */
function exchange(url: string, init: Request, body: Buffer, writeAtMost?: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: init.method, headers: { ...init.headers, "content-length": String(body.length) } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        req.destroy();
      });
      res.on("error", reject);
    });
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    if (writeAtMost !== undefined) {
      if (writeAtMost === 0) req.flushHeaders();
      else req.write(body.subarray(0, writeAtMost));
      req.setTimeout(10_000, () => req.destroy(new NoAnswerError(`${init.method} ${url}: no answer from the headers and ${writeAtMost} bytes within 10 s`)));
      return;
    }
    const slice = 256 * 1024;
    const writable = (): Promise<void> =>
      new Promise((next) => {
        const done = (): void => {
          req.off("drain", done);
          req.off("close", done);
          next();
        };
        req.on("drain", done);
        req.on("close", done);
      });
    void (async () => {
      for (let at = 0; at < body.length && !answered && !req.destroyed; at += slice) {
        if (!req.write(body.subarray(at, at + slice))) await writable();
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

/** The server did not answer a partial request (it waits for more of the body). */
class NoAnswerError extends Error {
  override readonly name = "NoAnswerError";
}

// What the third try sends of a body: more than any limit a service answers from (a JSON body limit,
// a CSV row or field limit), less than the 8 MiB a service drains before it closes the connection.
const THIRD_TRY_BYTES = 4 * 1024 * 1024;

/**
 * Sends a request as a well-behaved streaming client: the body goes out in slices and writing stops
 * once the server answers. A service refuses a body over its limit early — from the declared length,
 * or from the first row or field over a limit — and closes the connection after draining a bounded
 * amount; when that reset reaches the client before the answer did (a loaded machine can delay the
 * client that long), the request is made again with the headers only (the refusals from the declared
 * length answer those), and if the service waits for the body, with the headers and the first 4 MiB;
 * the answer to those is the service's answer.
 */
async function send(url: string, init: Request): Promise<Reply> {
  const body = init.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body);
  try {
    return await exchange(url, init, body);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPIPE" && code !== "ECONNRESET") throw error;
  }
  try {
    return await exchange(url, init, body, 0);
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    return exchange(url, init, body, Math.min(body.length, THIRD_TRY_BYTES));
  }
}

/** A request of the corpus. */
interface Request {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
}

interface Answer {
  readonly input: string;
  readonly status: number;
  readonly code: string;
  /** A 4xx with a code (or an answer the case allows). */
  readonly ok: boolean;
}

describe("hostile inputs: a 4xx with a code or a dead letter, never a crash, RSS < 512 MB", () => {
  const cleanup = new Cleanup();
  const answers: Answer[] = [];
  let deployment: Deployment;
  let sampler: RssSampler;
  let pids: Map<string, number | undefined>;
  let rrs = { url: "", key: "" };
  let webServiceId = "";

  /** The answers since `from` that were not a 4xx with a code (each case's `it` asserts none). */
  const failures = (from: number) => answers.slice(from).filter((a) => !a.ok).map((a) => `${a.input}: ${a.status} ${a.code || "(no code)"}`);

  /** Sends a request and records whether it was answered with a 4xx carrying an error code. */
  async function refused(input: string, url: string, init: Request): Promise<Answer> {
    const response = await send(url, { ...init, headers: { authorization: `Bearer ${deployment.adminKey}`, ...init.headers } });
    const text = response.text;
    let code = "";
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown } };
      code = typeof body.error?.code === "string" ? body.error.code : "";
    } catch {
      code = "";
    }
    const answer = { input, status: response.status, code, ok: response.status >= 400 && response.status < 500 && code !== "" };
    answers.push(answer);
    return answer;
  }

  const json = (method: string, body: string, contentType = "application/json"): Request => ({ method, headers: { "content-type": contentType }, body });
  const csv = (body: string | Buffer, contentType = "text/csv"): Request => ({ method: "PUT", headers: { "content-type": contentType }, body });
  const pipelineBody = JSON.stringify({
    trainingWebService: { workspace: "e2e", service: "hostile-training" },
    evaluation: { mode: "automatic", primaryMetric: "AUC" },
    targets: [],
    split: { fraction: 0.25, seed: 1 },
  });

  beforeAll(async () => {
    buildAll();
    deployment = await startDeployment({
      config: [
        "trainingServices:",
        "  - { workspace: e2e, name: hostile-training, learner: Two-Class Logistic Regression, label: label, parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1 } }",
        "pipelines:",
        "  - name: hostile",
        "    trainingWebService: { workspace: e2e, service: hostile-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.5 }",
        "    targets: []",
        "    split: { fraction: 0.25, seed: 3 }",
      ],
    });
    cleanup.add(() => deployment.stop());
    const model = await trainThroughBes(deployment, "hostile-training", churnCsv(500, 5));
    const created = await fetch(`${deployment.scoring.url}/v1/workspaces/e2e/webservices`, {
      method: "POST",
      headers: { authorization: `Bearer ${deployment.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "hostile", resourceName: "Churn [trained model]", model: { location: model }, modelId: "initial" }),
    });
    expect(created.status).toBe(201);
    webServiceId = ((await created.json()) as { webService: { Id: string } }).webService.Id;
    const endpoint = (await (
      await fetch(`${deployment.scoring.url}/workspaces/e2e/webservices/${webServiceId}/endpoints/default`, { headers: { authorization: `Bearer ${deployment.adminKey}` } })
    ).json()) as { ApiLocation: string; PrimaryKey: string };
    rrs = { url: `${endpoint.ApiLocation}/execute?api-version=2.0`, key: endpoint.PrimaryKey };
    pids = new Map(deployment.services.map((s, i) => [`${s.name}#${i}`, s.current.process.child.pid]));
    sampler = sampleRss(() => pids);
  }, 240_000);

  afterAll(async () => {
    await sampler?.stop();
    await cleanup.run();
  }, 60_000);

  it("names: traversal, control characters and overlong names of pipelines, web services, endpoints and blobs are refused", async () => {
    const from = answers.length;
    const hostileNames = ["../../etc/passwd", "..", "a\u0000b", "a\nb", "a\u001bb", "a\u202eb", "a\\b", "x".repeat(1025), "trailing.", "trailing/"];
    for (const raw of hostileNames) {
      const name = encodeURIComponent(raw);
      const label = JSON.stringify(raw.slice(0, 30));
      await refused(`pipeline name ${label}`, `${deployment.ingestion.url}/v1/pipelines/${name}`, json("PUT", pipelineBody));
      await refused(`web service name ${label}`, `${deployment.scoring.url}/v1/workspaces/e2e/webservices`, json("POST", JSON.stringify({ name: raw, resourceName: "Churn [trained model]" })));
      await refused(`endpoint name ${label}`, `${deployment.scoring.url}/workspaces/e2e/webservices/${webServiceId}/endpoints/${name}`, json("PUT", JSON.stringify({ Description: "x" })));
      await refused(`ARM web service name ${label}`, `${deployment.scoring.url}/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearning/webServices/${name}?api-version=2017-01-01`, json("PUT", JSON.stringify({ location: "x", properties: {} })));
    }
    for (const blob of ["../../scoring/keys.json", "..\\..\\x.csv", "a/\u0000/b.csv", "x".repeat(1025)]) {
      const trainer = deployment.trainers[0]?.url ?? "";
      const body = { Inputs: { input1: { ConnectionString: deployment.azureConnectionString, RelativeLocation: `${deployment.container}/${blob}` } } };
      await refused(`BES input blob ${JSON.stringify(blob.slice(0, 30))}`, `${trainer}/workspaces/e2e/services/hostile-training/jobs?api-version=2.0`, json("POST", JSON.stringify(body)));
      await refused(`DatasetAvailable blob ${JSON.stringify(blob.slice(0, 30))}`, `${deployment.ingestion.url}/v1/events`, json("POST", JSON.stringify({ specversion: "1.0", id: `hostile-${answers.length}`, source: "/upstream", type: EventTypes.DatasetAvailable, data: { pipeline: "hostile", dataset: { blobName: blob } } }), "application/cloudevents+json"));
    }
    expect(failures(from)).toEqual([]);
  }, 120_000);

  it("a user-supplied upload file name is metadata only: the dataset's blob name is the server's", async () => {
    const response = await fetch(`${deployment.ingestion.url}/v1/pipelines/hostile/datasets?name=${encodeURIComponent("../../scoring/x\u0000.csv")}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${deployment.adminKey}`, "content-type": "text/csv" },
      body: churnCsv(300, 77),
    });
    expect(response.status).toBeLessThan(300);
    const { runId } = (await response.json()) as { runId: string };
    const arrived = await waitFor(() => deployment.events.find((e): e is Extract<AnyEvent, { type: typeof EventTypes.DataArrived }> => e.type === EventTypes.DataArrived && e.data.runId === runId), { timeoutMs: 30_000 });
    expect(arrived.data.dataset.name).toBe(`ingestion/datasets/hostile/${runId}.csv`);
  }, 60_000);

  it("CSV uploads: 100 MB on one line, an unterminated quote, 100k columns, invalid UTF-8, NUL bytes, wrong content types", async () => {
    const from = answers.length;
    const url = `${deployment.ingestion.url}/v1/pipelines/hostile/datasets`;
    await refused("100 MB single-line CSV", url, csv(Buffer.concat([Buffer.from("tenure,charges,plan,label\n"), Buffer.alloc(100 * MB, 0x37)])));
    await refused("100 MB CSV, no line break at all", url, csv(Buffer.alloc(100 * MB, 0x61)));
    await refused("unterminated quote", url, csv(`tenure,charges,plan,label\n1,2,"basic,1\n3,4,plus,0\n`));
    await refused("100k columns", url, csv(`${Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(",")}\n${"1,".repeat(99_999)}1\n`));
    await refused("invalid UTF-8", url, csv(Buffer.concat([Buffer.from("tenure,charges,plan,label\n1,2,"), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(",1\n")])));
    await refused("NUL bytes", url, csv(Buffer.concat([Buffer.from("tenure,charges,plan,label\n"), Buffer.alloc(2048, 0)])));
    await refused("content type application/json", url, csv("tenure,charges,plan,label\n1,2,basic,1\n", "application/json"));
    await refused("content type image/png", url, csv("tenure,charges,plan,label\n1,2,basic,1\n", "image/png"));
    await refused("empty body", url, csv(""));
    expect(failures(from)).toEqual([]);
  }, 180_000);

  it("JSON bodies: deeply nested, invalid, huge numbers, oversize, wrong content types", async () => {
    const from = answers.length;
    const deep = (n: number) => `{"a":${"[".repeat(n)}${"]".repeat(n)}}`;
    const targets = [
      { name: "ingestion PUT pipeline", url: `${deployment.ingestion.url}/v1/pipelines/deep`, method: "PUT" },
      { name: "scoring POST web service", url: `${deployment.scoring.url}/v1/workspaces/e2e/webservices`, method: "POST" },
      { name: "trainer POST BES job", url: `${deployment.trainers[0]?.url ?? ""}/workspaces/e2e/services/hostile-training/jobs?api-version=2.0`, method: "POST" },
      { name: "evaluator POST approve", url: `${deployment.evaluator.url}/v1/runs/nope/approve`, method: "POST" },
    ];
    for (const t of targets) {
      await refused(`${t.name}: nested 100k deep`, t.url, json(t.method, deep(100_000)));
      await refused(`${t.name}: nested 1M deep (2 MB)`, t.url, json(t.method, deep(1_000_000)));
      await refused(`${t.name}: invalid JSON`, t.url, json(t.method, `{"a":`));
      await refused(`${t.name}: 5 MB string`, t.url, json(t.method, JSON.stringify({ name: "x".repeat(5 * MB) })));
      await refused(`${t.name}: text/plain`, t.url, json(t.method, pipelineBody, "text/plain"));
      await refused(`${t.name}: invalid UTF-8`, t.url, { method: t.method, headers: { "content-type": "application/json" }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) });
    }
    await refused("pipeline seed 1e400", `${deployment.ingestion.url}/v1/pipelines/huge`, json("PUT", pipelineBody.replace('"seed":1', '"seed":1e400')));
    await refused("pipeline fraction 400 digits", `${deployment.ingestion.url}/v1/pipelines/huge`, json("PUT", pipelineBody.replace('"fraction":0.25', `"fraction":${"9".repeat(400)}`)));
    expect(failures(from)).toEqual([]);
  }, 180_000);

  it("RRS execute: 100k columns, huge numbers, deep nesting, oversize and wrong types", async () => {
    const from = answers.length;
    const input = (columns: string[], values: unknown[][]) => JSON.stringify({ Inputs: { input1: { ColumnNames: columns, Values: values } }, GlobalParameters: {} });
    const call = (body: string | Buffer, contentType = "application/json"): Request => ({ method: "POST", headers: { authorization: `Bearer ${rrs.key}`, "content-type": contentType }, body });
    const cols = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    await refused("RRS 100k columns", rrs.url, call(input(cols, [cols.map(() => "1")])));
    await refused("RRS huge numbers 1e400 / 1000 digits", rrs.url, call(input(["tenure", "charges", "plan"], [["1e400", "9".repeat(1000), "basic"]])));
    await refused("RRS nested 100k deep", rrs.url, call(`{"Inputs":${"[".repeat(100_000)}${"]".repeat(100_000)}}`));
    await refused("RRS invalid JSON", rrs.url, call("{"));
    await refused("RRS 20 MB body", rrs.url, call(input(["tenure", "charges", "plan"], Array.from({ length: 400_000 }, () => ["12.5", "99.25", "basic-plan-long-name"]))));
    await refused("RRS text/plain", rrs.url, call(input(["tenure"], [["1"]]), "text/plain"));
    await refused("RRS invalid UTF-8", rrs.url, call(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])));
    await refused("RRS 100k rows of one 1 KB string field", rrs.url, call(input(["tenure", "charges", "plan"], Array.from({ length: 1000 }, () => ["1", "2", "p".repeat(100_000)]))));
    expect(failures(from)).toEqual([]);
  }, 180_000);

  it("events on the bus: oversize, deeply nested and invalid UTF-8 are dead-lettered; over the broker's max_payload the publish is refused", async () => {
    const oversize = Buffer.from(JSON.stringify({ specversion: "1.0", id: "hostile-oversize", source: "/h", type: EventTypes.DataArrived, time: new Date().toISOString(), data: { pad: "x".repeat(300 * 1024) } }));
    const nested = Buffer.from(`{"specversion":"1.0","id":"hostile-nested","source":"/h","type":"${EventTypes.DataArrived}","time":"${new Date().toISOString()}","data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    const utf8 = Buffer.concat([Buffer.from('{"specversion":"1.0","id":"hostile-utf8","source":"/h","type":"x","data":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    for (const body of [oversize, nested, utf8]) await deployment.observer.publishRaw(EventTypes.DataArrived, body);
    await expect(deployment.observer.publishRaw(EventTypes.DataArrived, Buffer.alloc(2 * MB, 0x20))).rejects.toThrow();
    const letters = await waitFor(
      async () => {
        const all = (await deployment.observer.listDeadLetters({ group: "trainer" })).filter((d) => d.reason === "SchemaInvalid");
        return all.length >= 3 && all;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "three dead letters in the trainer's group" },
    );
    for (const d of letters) answers.push({ input: `bus event: ${d.description.slice(0, 50)}`, status: 0, code: `dead letter ${d.reason}`, ok: true });
    expect(letters.map((d) => d.description).join(" | ")).toMatch(/EventTooLarge/);
  }, 60_000);

  it("no service crashed and every service's RSS stayed under 512 MB throughout", async () => {
    const { peaks, samples } = await sampler.stop();
    process.stdout.write(`${answers.map((a) => `${String(a.status).padEnd(4)} ${a.code.padEnd(28)} ${a.input}`).join("\n")}\n`);
    process.stdout.write(`${[...peaks].map(([name, rss]) => `${name}: peak RSS ${(rss / MB).toFixed(0)} MB`).join("\n")}\n`);
    expect(samples).toBeGreaterThan(10);
    expect(peaks.size).toBe(pids.size);
    for (const service of deployment.services) {
      expect({ service: service.name, exitCode: service.current.process.child.exitCode, signal: service.current.process.child.signalCode }).toEqual({ service: service.name, exitCode: null, signal: null });
    }
    const over = [...peaks].filter(([, rss]) => rss >= RSS_LIMIT);
    expect(over).toEqual([]);
  });
});
