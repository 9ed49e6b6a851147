// Every `retrain` command against a running Retrain: each service its own process over nats-server and
// Azurite. Human and --json output checked field by field, exit codes, and the one-line reason on failure.
// The tests share one deployment and build on each other in order (the runs of one test are the history
// of the next), as a person using the CLI would.
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { retrain, type CliRun } from "@retrain/cli/testing";
import { Cleanup, freePort, tempDir, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { buildAll, root } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";


interface Stage {
  stage: string;
  at: string;
  durationMs: number | null;
  target?: string;
  detail?: string;
}
interface Timeline {
  runId: string;
  pipeline: string;
  runSequence: number;
  trigger: { kind: string; by?: string } | null;
  datasetSha256: string | null;
  outcome: string;
  terminal: boolean;
  totalMs: number | null;
  stages: Stage[];
}
interface Upload {
  upload: { runId?: string; runSequence?: number; deduplicated?: boolean; held?: boolean; pipeline?: string; triggerId?: string };
  run?: Timeline;
}

/** Lines of a CLI run's stdout, without the last empty one. */
const lines = (run: CliRun): string[] => run.stdout.replace(/\n$/, "").split("\n");

describe("the retrain CLI against a running Retrain (processes, NATS, Azurite)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let dir = "";
  let modelUrl = "";
  let webServiceId = "";
  /** The runs the tests make, by what they were. */
  const runs: Record<string, string> = {};
  const file = (name: string): string => join(dir, name);

  /** `retrain <argv>` in workspace e2e with every service's own URL; `key: undefined` runs without a key. */
  const cli = (argv: readonly string[], options: { key?: string | undefined; interactive?: boolean } = {}): Promise<CliRun> =>
    retrain(argv, {
      serviceUrls: { scoring: deployment.scoring.url, ingestion: deployment.ingestion.url, registry: deployment.registry.url, evaluator: deployment.evaluator.url },
      workspace: "e2e",
      ...("key" in options ? (options.key !== undefined ? { key: options.key } : {}) : { key: deployment.key }),
      ...(options.interactive !== undefined ? { interactive: options.interactive } : {}),
    });

  /** Succeeds or fails the test with what the CLI said. */
  const ok = async (argv: readonly string[], options: { key?: string; interactive?: boolean } = {}): Promise<CliRun> => {
    const run = await cli(argv, options);
    if (run.code !== 0) throw new Error(`retrain ${argv.join(" ")} → exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    return run;
  };

  beforeAll(async () => {
    buildAll();
    const target = (endpoint: string) => `{ kind: classic, workspace: e2e, webService: churn, endpoint: ${endpoint}, resourceName: "Churn [trained model]", createIfMissing: true }`;
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ ${target("ep1")} ]`,
        "    split: { fraction: 0.25, seed: 11 }",
        "  - name: churn-manual",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: manual, primaryMetric: AUC }",
        `    targets: [ ${target("manual")} ]`,
        "    split: { fraction: 0.25, seed: 13 }",
        // Its target's web service does not exist: every approved run ends with PromotionFailed.
        "  - name: churn-nowhere",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.5 }",
        `    targets: [ { kind: classic, workspace: e2e, webService: missing, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true } ]`,
      ],
    });
    cleanup.add(() => deployment.stop());
    const temp = await tempDir("retrain-cli-e2e-");
    cleanup.add(() => temp.remove());
    dir = temp.path;
    await Promise.all([
      writeFile(file("v1.csv"), churnCsv(4000, 2)),
      writeFile(file("v2-drifted.csv"), churnCsv(4000, 4, { drift: true })),
      writeFile(file("noise.csv"), churnCsv(3000, 3, { noise: true })),
      writeFile(file("manual-a.csv"), churnCsv(2000, 5)),
      writeFile(file("manual-b.csv"), churnCsv(2000, 6)),
      writeFile(file("manual-c.csv"), churnCsv(2000, 7)),
      writeFile(file("held.csv"), churnCsv(2000, 8)),
      writeFile(file("manual-d.csv"), churnCsv(2000, 10)),
      writeFile(file("nolabel.csv"), churnCsv(500, 9).replace(/,\d$/gm, "").replace("plan,label", "plan")),
      writeFile(file("probe.csv"), "tenure,charges,plan\n3,99.5,basic\n45,30.25,pro\n\"12\",\"70\",\"plus\"\n"),
    ]);
    // The seed's starting point: a first model from the training web service through BES; its read URL is
    // what `retrain service create --model` takes.
    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1));
    modelUrl = `${model0.BaseLocation.replace(/\/?$/, "/")}${model0.RelativeLocation.replace(/^\/+/, "")}${model0.SasBlobToken}`;
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it("status: every service the CLI calls answers and is ready, each at its own URL", async () => {
    const human = lines(await ok(["status"]));
    expect(human[0]).toMatch(/^SERVICE +URL +STATE$/);
    expect(human.slice(1)).toEqual(
      (["ingestion", "registry", "evaluator", "scoring"] as const).map((service) => expect.stringMatching(new RegExp(`^${service} +${deployment[service].url} +ready$`))),
    );
    const json = (await ok(["--json", "status"])).json<{ ready: boolean; servers: Array<{ services: string[]; url: string; state: string }> }>();
    expect(json.ready).toBe(true);
    expect(json.servers.map((s) => [s.services, s.url, s.state])).toEqual([
      [["ingestion"], deployment.ingestion.url, "ready"],
      [["registry"], deployment.registry.url, "ready"],
      [["evaluator"], deployment.evaluator.url, "ready"],
      [["scoring"], deployment.scoring.url, "ready"],
    ]);
  });

  it("service create publishes a predictive web service from the BES model; services lists it; a second one of that name is refused", async () => {
    const created = await ok(["--json", "service", "create", "churn", "--model", modelUrl, "--resource-name", "Churn [trained model]", "--description", "who leaves"]);
    const body = created.json<{ kind: string; webService: { Id: string; Name: string; Description: string; EndpointCount: number }; defaultEndpoint: { Name: string; ApiLocation: string } }>();
    expect(body.kind).toBe("classic");
    expect(body.webService).toMatchObject({ Name: "churn", Description: "who leaves", EndpointCount: 1 });
    expect(body.defaultEndpoint.Name).toBe("default");
    expect(body.defaultEndpoint.ApiLocation).toBe(`${deployment.scoring.url}/workspaces/e2e/services/${body.defaultEndpoint.ApiLocation.split("/").pop()}`);
    webServiceId = body.webService.Id;

    const again = await cli(["service", "create", "churn", "--model", modelUrl]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toBe(`retrain: Workspace 'e2e' already has a web service named 'churn' (${webServiceId}). (POST /v1/workspaces/e2e/webservices → 409 WebServiceExists)\n`);

    const human = await ok(["services"]);
    expect(lines(human)[0]).toMatch(/^NAME +ID +ENDPOINTS +CREATED \(UTC\)$/);
    expect(lines(human)[1]).toMatch(new RegExp(`^churn +${webServiceId} +1 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`));
    const json = (await ok(["--json", "services"])).json<{ value: Array<{ Id: string; Name: string; EndpointCount: number }> }>();
    expect(json.value).toEqual([expect.objectContaining({ Id: webServiceId, Name: "churn", EndpointCount: 1 })]);
  });

  it("pipelines: human table and --json", async () => {
    const human = await ok(["pipelines"]);
    expect(lines(human)[0]).toMatch(/^PIPELINE +TRAINING SERVICE +EVALUATION +TARGETS +SCHEDULE +STATE$/);
    expect(human.stdout).toMatch(/\nchurn +e2e\/churn-training +automatic AUC ≥ 0\.6 +churn\/ep1 +- +active\n/);
    expect(human.stdout).toMatch(/\nchurn-manual +e2e\/churn-training +manual AUC +churn\/manual +- +active\n/);
    const json = (await ok(["--json", "pipelines"])).json<{ value: Array<{ name: string; paused: boolean; heldTriggers: number; evaluation: { mode: string } }> }>();
    expect(json.value.map((p) => [p.name, p.evaluation.mode, p.paused, p.heldTriggers])).toEqual([
      ["churn", "automatic", false, 0],
      ["churn-manual", "manual", false, 0],
      ["churn-nowhere", "automatic", false, 0],
    ]);
  });

  it("upload streams the file (a progress bar on a terminal only) and follows the run live: every stage, promoted, exit 0", async () => {
    const run = await ok(["upload", "churn", file("v1.csv")], { interactive: true });
    const out = lines(run);
    const runId = /run (\w+) \(#1\)$/.exec(out[0] ?? "")?.[1] ?? "";
    expect(out[0]).toMatch(/^uploaded v1\.csv \(\d+\.\d KiB\) to churn: run \w{26} \(#1\)$/);
    expect(out.slice(1, -1).map((line) => line.trim().split(/\s+/)[0])).toEqual(["received", "trained", "approved", "updated"]);
    expect(out[1]).toMatch(/^ {2}received +\d\d:\d\d:\d\d$/);
    expect(out[2]).toMatch(/^ {2}trained +\d\d:\d\d:\d\d {2}\+\d+(\.\d)? m?s/);
    expect(out[3]).toMatch(/AUC 0\.\d+ ≥ threshold 0\.6 and no champion yet/);
    expect(out[4]).toMatch(/classic:e2e\/churn\/ep1 {2}revision 2 \(promotion\)$/);
    expect(out.at(-1)).toMatch(new RegExp(`^run ${runId} \\(churn #1\\) promoted after \\d`));
    // The progress bar went to stderr (a terminal here), ending at 100% and a new line.
    // Each redraw returns to the line's start and erases what a longer previous text left (ESC [K).
    const bar = run.stderr.replaceAll("\u001b[K", "<erase>");
    expect(bar).toMatch(/^\ruploading v1\.csv \[-+\] {3}0% {2}0 B \/ \d+\.\d KiB<erase>\r/);
    expect(bar).toMatch(/\ruploading v1\.csv \[#+\] 100% {2}\d+\.\d KiB \/ \d+\.\d KiB<erase>\n$/);
    runs["v1"] = runId;

    // Not on a terminal: no progress bar.
    const quiet = await ok(["upload", "churn", file("v1.csv"), "--no-follow"]);
    expect(quiet.stderr).toBe("");
    expect(lines(quiet)).toEqual([`uploaded v1.csv (${/\(([\d.]+ KiB)\)/.exec(out[0] ?? "")?.[1]}) to churn: same content as run ${runId} (#1); no new run`, `follow it with: retrain run ${runId}`]);
  }, 120_000);

  it("upload --json: one document with the upload and the run's final timeline", async () => {
    const run = await ok(["--json", "upload", "churn", file("v2-drifted.csv")]);
    const body = run.json<Upload>();
    expect(body.upload).toEqual({ runId: expect.stringMatching(/^\w{26}$/), runSequence: 2, deduplicated: false });
    expect(body.run).toMatchObject({ runId: body.upload.runId, pipeline: "churn", runSequence: 2, outcome: "promoted", terminal: true, trigger: { kind: "upload", by: "key:e2e/primary" } });
    expect(body.run?.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.run?.stages.map((s) => s.stage)).toEqual(["received", "trained", "approved", "updated"]);
    expect(body.run?.stages[0]?.durationMs).toBeNull();
    for (const stage of body.run?.stages.slice(1) ?? []) expect(stage.durationMs).toBeGreaterThanOrEqual(0);
    expect(body.run?.stages[2]?.detail).toMatch(/beats the champion/);
    expect(body.run?.stages[3]).toMatchObject({ target: "classic:e2e/churn/ep1", detail: "revision 3 (promotion)" });
    expect(body.run?.totalMs).toBe((body.run?.stages ?? []).reduce((sum, s) => sum + (s.durationMs ?? 0), 0));
    // Human output stays off stdout under --json: the document is all there is.
    expect(run.stdout.trim().startsWith("{")).toBe(true);
    runs["v2"] = body.upload.runId ?? "";
  }, 120_000);

  it("a rejected run ends the upload with exit 0, the outcome and the reason printed", async () => {
    const run = await ok(["upload", "churn", file("noise.csv")]);
    const last = lines(run).at(-1) ?? "";
    expect(last).toMatch(/^run (\w{26}) \(churn #3\) rejected after \d.*: AUC 0\.\d+ < threshold 0\.6/);
    expect(lines(run).at(-2)).toMatch(/^ {2}rejected /);
    runs["noise"] = /^run (\w{26})/.exec(last)?.[1] ?? "";
  }, 120_000);

  it("runs: newest first, filtered by pipeline and outcome, paged with --top/--skip", async () => {
    const json = (await ok(["--json", "runs", "--pipeline", "churn"])).json<{ value: Array<{ runId: string; runSequence: number; outcome: string; trigger: { kind: string } }>; count: number }>();
    expect(json.value.map((r) => [r.runId, r.runSequence, r.outcome, r.trigger.kind])).toEqual([
      [runs["noise"], 3, "rejected", "upload"],
      [runs["v2"], 2, "promoted", "upload"],
      [runs["v1"], 1, "promoted", "upload"],
    ]);
    expect(json.count).toBe(3);
    const rejected = (await ok(["--json", "runs", "--outcome", "rejected"])).json<{ value: Array<{ runId: string }> }>();
    expect(rejected.value.map((r) => r.runId)).toEqual([runs["noise"]]);

    const human = await ok(["runs", "--pipeline", "churn", "--top", "2"]);
    const out = lines(human);
    expect(out[0]).toMatch(/^RUN +PIPELINE +# +TRIGGER +OUTCOME +STARTED \(UTC\) +DURATION$/);
    expect(out[1]).toMatch(new RegExp(`^${runs["noise"]} +churn +3 +upload +rejected +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +\\d`));
    expect(out[2]).toMatch(new RegExp(`^${runs["v2"]} +churn +2 +upload +promoted `));
    expect(out[3]).toBe("2 of 3 runs; the next page: --skip 2");
    const next = (await ok(["--json", "runs", "--pipeline", "churn", "--top", "2", "--skip", "2"])).json<{ value: Array<{ runId: string }> }>();
    expect(next.value.map((r) => r.runId)).toEqual([runs["v1"]]);
  });

  it("stuck: none while every run moves on (the reconciler's report)", async () => {
    expect((await ok(["stuck"])).stdout).toBe("no stuck runs\n");
    expect((await ok(["--json", "stuck"])).json()).toEqual({ value: [] });
  });

  it("run <id>: the timeline with each stage's time and duration", async () => {
    const human = await ok(["run", runs["v2"] ?? ""]);
    const out = lines(human);
    expect(out[0]).toBe(`run ${runs["v2"]}: pipeline churn #2, trigger upload by key:e2e/primary`);
    expect(out[1]).toMatch(/^dataset sha256 [0-9a-f]{64}$/);
    expect(out[2]).toMatch(/^ {2}STAGE +AT \(UTC\) +\+TIME +TARGET \/ DETAIL$/);
    expect(out.slice(3, 7).map((l) => l.trim().split(/\s+/)[0])).toEqual(["received", "trained", "approved", "updated"]);
    expect(out[4]).toMatch(/\+\d+(\.\d)? m?s/);
    expect(out[7]).toMatch(new RegExp(`^run ${runs["v2"]} \\(churn #2\\) promoted after \\d`));
    const json = (await ok(["--json", "run", runs["v2"] ?? ""])).json<Timeline>();
    expect(json).toMatchObject({ runId: runs["v2"], pipeline: "churn", runSequence: 2, outcome: "promoted", terminal: true });
    expect(json.stages.map((s) => [s.stage, typeof s.at, s.durationMs === null ? null : typeof s.durationMs])).toEqual([
      ["received", "string", null],
      ["trained", "string", "number"],
      ["approved", "string", "number"],
      ["updated", "string", "number"],
    ]);
  });

  it("lineage <id>: dataset → job → model → evaluation → approval → endpoint updates", async () => {
    const timeline = (await ok(["--json", "run", runs["v2"] ?? ""])).json<Timeline>();
    const json = (await ok(["--json", "lineage", runs["v2"] ?? ""])).json<{
      runId: string;
      dataset: { sha256: string };
      job: { jobId: string; learner: string; rows: number; trainingRows: number; holdoutRows: number };
      model: { modelId: string; blob: string };
      evaluation: { challenger: Record<string, number>; champions: Array<{ target: string }> };
      approval: { decision: string; kind: string };
      endpoints: Array<{ target: string; outcome: string; revision: number; kind: string; modelId: string }>;
    }>();
    expect(json.runId).toBe(runs["v2"]);
    expect(json.dataset.sha256).toBe(timeline.datasetSha256);
    expect(json.job).toMatchObject({ learner: "Two-Class Logistic Regression", rows: 4000, trainingRows: 3000, holdoutRows: 1000 });
    expect(json.model.blob).toMatch(new RegExp(`${json.job.jobId}/output1\\.ilearner$`));
    expect(json.evaluation.challenger["AUC"]).toBeGreaterThan(0.6);
    expect(json.evaluation.champions.map((c) => c.target)).toEqual(["classic:e2e/churn/ep1"]);
    expect(json.approval).toMatchObject({ decision: "approved", kind: "evaluation" });
    expect(json.endpoints).toEqual([expect.objectContaining({ target: "classic:e2e/churn/ep1", outcome: "updated", revision: 3, kind: "promotion", modelId: json.model.modelId })]);
    const out = lines(await ok(["lineage", runs["v2"] ?? ""]));
    expect(out[0]).toBe(`run ${runs["v2"]}: pipeline churn #2`);
    // One labelled line per link (a second evaluation line, the champion's, has no label).
    expect(out.slice(1).map((l) => l.slice(2, 13).trim()).filter((label) => label !== "")).toEqual(["dataset", "job", "model", "evaluation", "approval", "endpoints"]);
    expect(out.at(-1)).toMatch(new RegExp(`^ {2}endpoints +classic:e2e/churn/ep1 {2}revision 3 \\(promotion\\) {2}${json.model.modelId} {2}at `));
  });

  it("endpoints: each endpoint of the web service with the model it serves", async () => {
    const v2 = (await ok(["--json", "run", runs["v2"] ?? ""])).json<Timeline>();
    expect(v2.outcome).toBe("promoted");
    const json = (await ok(["--json", "endpoints", "churn"])).json<{ value: Array<{ Name: string; WebServiceId: string; ApiLocation: string; model: { modelId: string; revision: number; runId: string | null } | null }> }>();
    expect(json.value.map((e) => [e.Name, e.WebServiceId, e.model?.revision, e.model?.runId ?? null])).toEqual([
      ["default", webServiceId, 1, null],
      ["ep1", webServiceId, 3, runs["v2"]],
    ]);
    const human = await ok(["endpoints"]);
    const out = lines(human);
    expect(out[0]).toMatch(/^WEB SERVICE +ENDPOINT +MODEL +SINCE \(UTC\) +THROTTLE +API LOCATION$/);
    expect(out[2]).toMatch(new RegExp(`^churn +ep1 +${json.value[1]?.model?.modelId} r3 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +High/20 +${json.value[1]?.ApiLocation}$`));
  });

  it("score: the endpoint's predictions for a CSV file, as a table and as JSON", async () => {
    const human = await ok(["score", "churn/ep1", file("probe.csv")]);
    const out = lines(human);
    expect(out[0]).toMatch(/^tenure +charges +plan +Scored Labels +Scored Probabilities$/);
    expect(out.slice(1, 4).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ["3", "99.5", "basic", expect.stringMatching(/^[01]$/)],
      ["45", "30.25", "pro", expect.stringMatching(/^[01]$/)],
      ["12", "70", "plus", expect.stringMatching(/^[01]$/)],
    ]);
    expect(out[4]).toMatch(/^3 row\(s\) scored by classic:e2e\/churn\/ep1 \(model \w+@r3\)$/);
    const json = (await ok(["--json", "score", "churn/ep1", file("probe.csv")])).json<{
      target: string;
      model: string;
      columnNames: string[];
      predictions: Array<Record<string, string>>;
    }>();
    expect(json.target).toBe("classic:e2e/churn/ep1");
    expect(json.model).toMatch(/@r3$/);
    expect(json.columnNames).toEqual(["Scored Labels", "Scored Probabilities"]);
    expect(json.predictions).toHaveLength(3);
    for (const row of json.predictions) {
      const p = Number(row["Scored Probabilities"]);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(row["Scored Labels"]).toBe(p >= 0.5 ? "1" : "0");
    }
    // The default endpoint still serves the first model: other predictions.
    const first = (await ok(["--json", "score", "churn", file("probe.csv")])).json<{ model: string; predictions: Array<Record<string, string>> }>();
    expect(first.model).toMatch(/@r1$/);
    expect(first.predictions).not.toEqual(json.predictions);
  });

  it("history: every promotion of the target, the serving revision marked", async () => {
    const json = (await ok(["--json", "history", "churn/ep1"])).json<{ target: string; value: Array<{ revision: number; runId: string; runSequence: number; kind: string; modelId: string }> }>();
    expect(json.target).toBe("classic:e2e/churn/ep1");
    expect(json.value.map((e) => [e.revision, e.runId, e.runSequence, e.kind])).toEqual([
      [2, runs["v1"], 1, "promotion"],
      [3, runs["v2"], 2, "promotion"],
    ]);
    const human = await ok(["history", "classic:e2e/churn/ep1"]);
    const out = lines(human);
    expect(out[0]).toBe("classic:e2e/churn/ep1:");
    expect(out[1]).toMatch(/^REVISION +MODEL +RUN +# +KIND +AT \(UTC\)$/);
    expect(out[2]).toMatch(new RegExp(`^2 +${json.value[0]?.modelId} +${runs["v1"]} +1 +promotion `));
    expect(out[3]).toMatch(new RegExp(`^3 \\* +${json.value[1]?.modelId} +${runs["v2"]} +2 +promotion `));
  });

  it("manual approval: approve and reject record who (from the key: an operator's own, or the admin's) and why; a decided run cannot be decided again", async () => {
    const a = (await ok(["--json", "upload", "churn-manual", file("manual-a.csv"), "--no-follow"])).json<Upload>().upload.runId ?? "";
    const b = (await ok(["--json", "upload", "churn-manual", file("manual-b.csv"), "--no-follow"])).json<Upload>().upload.runId ?? "";
    await waitFor(
      async () => {
        const waiting = (await ok(["--json", "runs", "--outcome", "awaiting-approval"])).json<{ value: Array<{ runId: string }> }>();
        return [a, b].every((id) => waiting.value.some((r) => r.runId === id));
      },
      { timeoutMs: 60_000, intervalMs: 200, description: "both manual runs to wait for approval" },
    );
    const pending = (await ok(["--json", "approvals"])).json<{ value: Array<{ runId: string; state: string }> }>();
    expect(pending.value.map((e) => e.runId).sort()).toEqual([a, b].sort());
    expect(lines(await ok(["approvals"]))[0]).toMatch(/^RUN +PIPELINE +# +EVALUATED \(UTC\) +DECIDED BY +REASON$/);

    // Deciding is an admin's: the workspace key is refused with the server's reason.
    const refused = await cli(["approve", a]);
    expect(refused).toMatchObject({ code: 1, stdout: "", stderr: `retrain: Only an admin key may approve a run. (POST /v1/runs/${a}/approve → 403 Forbidden)\n` });
    // A person's own key (an operator key made with the admin key): the approval records her name.
    const added = (await ok(["--json", "operators", "add", "dana"], { key: deployment.adminKey })).json<{ name: string; role: string; key: string }>();
    expect(added).toMatchObject({ name: "dana", role: "admin" });
    expect(lines(await ok(["operators", "list"], { key: deployment.adminKey }))[1]).toMatch(/^dana +admin +\* +\S+ \S+ +admin$/);
    // Every service reads the shared keyring within its cache time.
    await waitFor(async () => (await cli(["approvals"], { key: added.key })).code === 0, { timeoutMs: 15_000, description: "the evaluator accepting dana's key" });
    const approved = await ok(["approve", a, "--reason", "checked the lift chart"], { key: added.key });
    expect(approved.stdout).toMatch(new RegExp(`^run ${a} approved by dana: Approved by dana: checked the lift chart \\(.+\\)\\n$`));
    expect((await ok(["operators", "remove", "dana"], { key: deployment.adminKey })).stdout).toBe("removed operator dana\n");
    // A workspace's operator: --for-workspace; the CLI's own --workspace is refused there (it would make an admin key).
    expect((await ok(["--json", "operators", "add", "erin", "--for-workspace", "e2e"], { key: deployment.adminKey })).json<{ role: string; workspace: string }>()).toMatchObject({
      role: "user",
      workspace: "e2e",
    });
    const misplaced = await cli(["--workspace", "e2e", "operators", "add", "frank"], { key: deployment.adminKey });
    expect(misplaced).toMatchObject({ code: 2, stdout: "" });
    expect(misplaced.stderr).toContain("--for-workspace");
    expect(lines(await ok(["operators", "list"], { key: deployment.adminKey })).slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([["erin", "user", "e2e"]]);
    await waitFor(async () => (await cli(["approvals"], { key: added.key })).code !== 0, { timeoutMs: 15_000, description: "dana's removed key refused" });
    const rejected = (await ok(["--json", "reject", b, "--reason", "too few rows"], { key: deployment.adminKey })).json<{
      runId: string;
      state: string;
      approval: { state: string; decidedBy: string; comment: string };
    }>();
    expect(rejected).toMatchObject({ runId: b, state: "rejected", approval: { state: "rejected", decidedBy: "admin", comment: "too few rows" } });

    const again = await cli(["approve", b], { key: deployment.adminKey });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`retrain: Run '${b}' is not waiting for approval (it is rejected). (POST /v1/runs/${b}/approve → 409 ApprovalNotPending)\n`);

    const ends = await waitFor(
      async () => {
        const [ra, rb] = await Promise.all([a, b].map(async (id) => (await ok(["--json", "run", id])).json<Timeline>()));
        return ra?.terminal === true && rb?.terminal === true && [ra, rb];
      },
      { timeoutMs: 60_000, intervalMs: 200, description: "the approved and the rejected run to end" },
    );
    expect(ends.map((r) => r.outcome)).toEqual(["promoted", "rejected"]);
    expect(ends[0]?.stages.map((s) => s.stage)).toEqual(["received", "trained", "awaiting", "approved", "updated"]);
  }, 120_000);

  it("rerun: a new run of the same dataset, followed live with --follow", async () => {
    const json = (await ok(["--json", "rerun", runs["v1"] ?? ""])).json<{ rerun: { runId: string; runSequence: number } }>();
    expect(json.rerun.runId).not.toBe(runs["v1"]);
    expect(json.rerun.runSequence).toBe(4);
    const followed = await ok(["rerun", runs["v1"] ?? "", "--follow"]);
    const out = lines(followed);
    expect(out[0]).toMatch(new RegExp(`^run (\\w{26}) \\(churn #5\\) started: a re-run of ${runs["v1"]}$`));
    expect(out[1]).toMatch(/^ {2}received /);
    expect(out.at(-1)).toMatch(/^run \w{26} \(churn #5\) (promoted|rejected) after \d/);
    const rerunId = /^run (\w{26})/.exec(out[0] ?? "")?.[1] ?? "";
    const timeline = (await ok(["--json", "run", rerunId])).json<Timeline>();
    expect(timeline.trigger).toEqual({ kind: "rerun", by: "key:e2e/primary" });
    const original = (await ok(["--json", "run", runs["v1"] ?? ""])).json<Timeline>();
    expect(timeline.datasetSha256).toBe(original.datasetSha256);
  }, 120_000);

  it("cancel: a run waiting for approval is cancelled (again: the same answer); an ended run cannot be", async () => {
    const c = (await ok(["--json", "upload", "churn-manual", file("manual-c.csv"), "--no-follow"])).json<Upload>().upload.runId ?? "";
    await waitFor(async () => (await ok(["--json", "run", c])).json<Timeline>().outcome === "awaiting-approval", { timeoutMs: 60_000, intervalMs: 200, description: "the run to wait for approval" });
    const cancelled = await ok(["cancel", c, "--reason", "wrong file"]);
    expect(cancelled.stdout).toBe(`run ${c} of churn-manual cancelled by e2e/primary\n`);
    const ended = await waitFor(
      async () => {
        const run = (await ok(["--json", "run", c])).json<Timeline>();
        return run.terminal && run;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "the cancelled run to end" },
    );
    expect(ended.outcome).toBe("cancelled");
    // Cancelling is idempotent: the same answer again, who and when unchanged.
    const again = (await ok(["--json", "cancel", c])).json<{ runId: string; pipeline: string; cancelled: boolean; cancelledBy: string; cancelledAt: string }>();
    expect(again).toEqual({ runId: c, pipeline: "churn-manual", cancelled: true, cancelledBy: "e2e/primary", cancelledAt: expect.any(String) });
    // A run that ended otherwise cannot be cancelled: exit 1 with the server's reason.
    const ended2 = await cli(["--json", "cancel", runs["v1"] ?? ""]);
    expect(ended2.code).toBe(1);
    expect(JSON.parse(ended2.stderr)).toEqual({
      error: { code: "RunTerminal", message: `Run '${runs["v1"]}' has ended already (promoted). (POST /v1/pipelines/churn/runs/${runs["v1"]}/cancel → 409 RunTerminal)` },
    });
  }, 120_000);

  it("upload --timeout: a run waiting for a person is left as it is when the time is up; exit 1 says how to follow it", async () => {
    const runId = (await ok(["--json", "upload", "churn-manual", file("manual-d.csv"), "--no-follow"])).json<Upload>().upload.runId ?? "";
    await waitFor(async () => (await ok(["--json", "run", runId])).json<Timeline>().outcome === "awaiting-approval", { timeoutMs: 60_000, intervalMs: 200, description: "the run to wait for approval" });
    // The same file again is the same run, already waiting: following it shows its stages, then the time runs out.
    const run = await cli(["upload", "churn-manual", file("manual-d.csv"), "--timeout", "2"]);
    expect(run.code).toBe(1);
    const out = lines(run);
    expect(out[0]).toMatch(new RegExp(`same content as run ${runId} \\(#\\d+\\); no new run$`));
    expect(out.slice(1).map((line) => line.trim().split(/\s+/)[0])).toEqual(["received", "trained", "awaiting"]);
    expect(run.stderr).toBe(
      `waiting for a person's decision: retrain approve|reject ${runId} (an admin key)\n` +
        `retrain: run ${runId} is still awaiting-approval after 2.0 s; follow it with: retrain run ${runId}\n`,
    );
    expect((await ok(["--json", "run", runId])).json<Timeline>().outcome).toBe("awaiting-approval");
    await ok(["cancel", runId]);
  }, 60_000);

  it("pipeline pause holds an upload (exit 0, no run); resume starts it", async () => {
    const paused = await ok(["pipeline", "pause", "churn"]);
    expect(paused.stdout).toMatch(/^pipeline churn paused by e2e\/primary at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d; uploads are held until: retrain pipeline resume churn\n$/);
    const held = await ok(["upload", "churn", file("held.csv")]);
    expect(held.stdout).toMatch(/^pipeline churn is paused: held\.csv is held \(trigger .+\); it starts a run on: retrain pipeline resume churn\n$/);
    const heldJson = (await ok(["--json", "upload", "churn", file("held.csv")])).json<Upload>();
    expect(heldJson.upload).toMatchObject({ held: true, pipeline: "churn" });
    const pipelines = (await ok(["--json", "pipelines"])).json<{ value: Array<{ name: string; paused: boolean; heldTriggers: number }> }>();
    expect(pipelines.value.find((p) => p.name === "churn")).toMatchObject({ paused: true, heldTriggers: expect.any(Number) });
    expect(lines(await ok(["pipelines"])).find((l) => l.startsWith("churn "))).toMatch(/ paused \(\d+ held\)$/);

    const resumed = (await ok(["--json", "pipeline", "resume", "churn"])).json<{ pipeline: { name: string; paused: boolean }; started: Array<{ runId: string }> }>();
    expect(resumed.pipeline).toMatchObject({ name: "churn", paused: false });
    expect(resumed.started.length).toBeGreaterThanOrEqual(1);
    const started = resumed.started[0]?.runId ?? "";
    const ended = await waitFor(
      async () => {
        const run = (await ok(["--json", "run", started])).json<Timeline>();
        return run.terminal && run;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: "the held upload's run to end" },
    );
    expect(["promoted", "rejected"]).toContain(ended.outcome);
  }, 120_000);

  it("rollback: the admin key serves the first run's model again as a new revision recorded as a rollback", async () => {
    const denied = await cli(["rollback", "churn/ep1", "--to", runs["v1"] ?? ""]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^retrain: .*admin.* \(POST \/v1\/targets\/rollback → 403 \w+\)\n$/);
    const before = (await ok(["--json", "history", "churn/ep1"])).json<{ value: Array<{ revision: number; modelId: string; runId: string }> }>();
    const v1Model = before.value.find((e) => e.runId === runs["v1"])?.modelId;
    const latest = Math.max(...before.value.map((e) => e.revision));

    const rolled = await ok(["rollback", "churn/ep1", "--to", runs["v1"] ?? "", "--reason", "v2 misbehaves"], { key: deployment.adminKey });
    const out = lines(rolled);
    expect(out[0]).toMatch(new RegExp(`^rollback of classic:e2e/churn/ep1 to the model of run ${runs["v1"]}: rollback run \\w{26}$`));
    expect(out.at(-1)).toBe(`classic:e2e/churn/ep1 serves ${v1Model} again (the model of run ${runs["v1"]}) as revision ${latest + 1}, recorded as a rollback`);

    const after = (await ok(["--json", "history", "churn/ep1"])).json<{ value: Array<{ revision: number; modelId: string; kind: string }> }>();
    expect(after.value.at(-1)).toMatchObject({ revision: latest + 1, modelId: v1Model, kind: "rollback" });
    const targets = (await ok(["--json", "targets"])).json<{ value: Array<{ target: string; current: { revision: number; modelId: string; kind: string } }> }>();
    expect(targets.value.find((t) => t.target === "classic:e2e/churn/ep1")?.current).toMatchObject({ revision: latest + 1, modelId: v1Model, kind: "rollback" });
    const scored = (await ok(["--json", "score", "churn/ep1", file("probe.csv")])).json<{ model: string }>();
    expect(scored.model).toBe(`${v1Model}@r${latest + 1}`);

    const json = (await ok(["--json", "rollback", "churn/ep1", "--to", runs["v2"] ?? "", "--no-wait"], { key: deployment.adminKey })).json<{
      rollback: { target: string; to: string; rollbackRunId: string; eventId: string };
    }>();
    expect(json.rollback).toEqual({ target: "classic:e2e/churn/ep1", to: runs["v2"], rollbackRunId: expect.stringMatching(/^\w{26}$/), eventId: expect.any(String) });
    const never = await cli(["rollback", "churn/ep1", "--to", runs["noise"] ?? ""], { key: deployment.adminKey });
    expect(never.code).toBe(1);
    expect(never.stderr).toBe(`retrain: Run '${runs["noise"]}' never served target 'classic:e2e/churn/ep1'. (POST /v1/targets/rollback → 404 RunNeverServedTarget)\n`);
  }, 120_000);

  it("failures: an unknown run or pipeline → 1 with the server's reason; no key → 1 'not authorized'; a server down → 3 'cannot reach'", async () => {
    const unknown = await cli(["run", "01NOSUCHRUN"]);
    expect(unknown).toMatchObject({ code: 1, stdout: "", stderr: "retrain: No run '01NOSUCHRUN' found. (GET /v1/runs/01NOSUCHRUN → 404 NotFound)\n" });
    const cancel = await cli(["cancel", "01NOSUCHRUN"]);
    expect(cancel).toMatchObject({ code: 1, stderr: "retrain: No run '01NOSUCHRUN' found. (GET /v1/runs/01NOSUCHRUN → 404 NotFound)\n" });
    const approve = await cli(["approve", "01NOSUCHRUN"]);
    expect(approve).toMatchObject({ code: 1, stderr: "retrain: No evaluation of run '01NOSUCHRUN' was found. (POST /v1/runs/01NOSUCHRUN/approve → 404 EvaluationNotFound)\n" });
    const pipeline = await cli(["upload", "nope", file("v1.csv")]);
    expect(pipeline).toMatchObject({ code: 1, stderr: "retrain: Pipeline 'nope' was not found. (PUT /v1/pipelines/nope/datasets → 404 PipelineNotFound)\n" });

    const noKey = await cli(["runs"], { key: undefined });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^retrain: not authorized by the registry: .+ \(set RETRAIN_KEY or --key\)\n$/);
    const wrongKey = await cli(["--json", "pipelines"], { key: "not-a-key" });
    expect(wrongKey.code).toBe(1);
    expect(JSON.parse(wrongKey.stderr)).toEqual({ error: { code: expect.any(String), message: expect.stringMatching(/^not authorized by the ingestion: /) } });

    const down = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await retrain(["runs"], { serviceUrls: { registry: down }, key: deployment.key, workspace: "e2e" });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(new RegExp(`^retrain: cannot reach the registry at ${down}: .+\\n$`));
  });

  it("a run that ends with PromotionFailed or TrainingFailed ends the upload with exit 1: the outcome on stdout, one line why on stderr", async () => {
    const promotion = await cli(["upload", "churn-nowhere", file("v1.csv")]);
    expect(promotion.code).toBe(1);
    const last = lines(promotion).at(-1) ?? "";
    expect(last).toMatch(/^run \w{26} \(churn-nowhere #1\) promotion-failed after \d.*: WebServiceNotFound: Web service 'missing' was not found in workspace 'e2e'\.$/);
    expect(lines(promotion).at(-2)).toMatch(/^ {2}promotion-failed +\d\d:\d\d:\d\d {2}\+.* classic:e2e\/missing\/ep1 {2}WebServiceNotFound: /);
    expect(promotion.stderr).toBe(`retrain: ${last}\n`);

    const training = await cli(["--json", "upload", "churn-nowhere", file("nolabel.csv")]);
    expect(training.code).toBe(1);
    const body = training.json<Upload>();
    expect(body.run).toMatchObject({ pipeline: "churn-nowhere", runSequence: 2, outcome: "failed", terminal: true });
    expect(body.run?.stages.map((s) => s.stage)).toEqual(["received", "failed"]);
    expect(JSON.parse(training.stderr)).toEqual({ error: { code: "TrainingFailed", message: expect.stringMatching(/^run \w{26} \(churn-nowhere #2\) failed after \d.*: \w+: .*label/) } });
  }, 120_000);

  it("the built binary: node packages/cli/dist/main.js reads RETRAIN_* and exits with the command's code", () => {
    const env = {
      ...process.env,
      RETRAIN_KEY: deployment.key,
      RETRAIN_WORKSPACE: "e2e",
      RETRAIN_REGISTRY_URL: deployment.registry.url,
      RETRAIN_INGESTION_URL: deployment.ingestion.url,
    };
    const bin = join(root, "packages/cli/dist/main.js");
    const listed = spawnSync(process.execPath, [bin, "runs", "--pipeline", "churn", "--json"], { env, encoding: "utf8", timeout: 30_000 });
    expect(listed.status).toBe(0);
    const body = JSON.parse(listed.stdout) as { value: Array<{ runId: string }> };
    expect(body.value.map((r) => r.runId)).toContain(runs["v1"]);
    const failed = spawnSync(process.execPath, [bin, "run", "01NOSUCHRUN"], { env, encoding: "utf8", timeout: 30_000 });
    expect(failed.status).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toBe("retrain: No run '01NOSUCHRUN' found. (GET /v1/runs/01NOSUCHRUN → 404 NotFound)\n");
  });
});
