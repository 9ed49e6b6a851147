// The registry's /ui page in a real browser (Debian's headless Chromium through playwright-core)
// after runs across processes: the run list with its filters, a run's waterfall with every stage
// (and the services' spans, exported over OTLP and forwarded to the registry), an endpoint's model
// history chart and the dead-letter list. Screenshots go to test/artifacts/ui-*.png.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { startOtlpCollector } from "./observability.js";
import { buildAll, root } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";

const TERMINAL = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);
const ARTIFACTS = join(root, "test", "artifacts");

describe("/ui in headless Chromium after an end-to-end run", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let browser: Browser;
  let page: Page;
  let events: AnyEvent[] = [];
  let promotedRunId = "";
  let rejectedRunId = "";
  const apiRequests: Array<{ url: string; authorization: string | undefined }> = [];

  const endOf = (runId: string) =>
    waitFor(() => events.find((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === runId), { timeoutMs: 90_000, description: `run ${runId} to end` });
  const upload = async (csv: string): Promise<string> => {
    const response = await fetch(`${deployment.ingestion.url}/v1/pipelines/churn/datasets`, { method: "PUT", headers: { authorization: `Bearer ${deployment.key}`, "content-type": "text/csv" }, body: csv });
    expect(response.status).toBe(202);
    return ((await response.json()) as { runId: string }).runId;
  };

  beforeAll(async () => {
    buildAll();
    await mkdir(ARTIFACTS, { recursive: true });
    const collector = await startOtlpCollector();
    cleanup.add(() => collector.close());
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ { kind: classic, workspace: e2e, webService: churn, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true } ]`,
        "    split: { fraction: 0.25, seed: 11 }",
      ],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
    cleanup.add(() => deployment.stop());
    collector.forwardTo(deployment.registry.url, deployment.adminKey);
    events = deployment.events;
    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1));
    const published = await fetch(`${deployment.scoring.url}/v1/workspaces/e2e/webservices`, {
      method: "POST",
      headers: { authorization: `Bearer ${deployment.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "churn", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" }),
    });
    expect(published.status).toBe(201);
    promotedRunId = await upload(churnCsv(4000, 2));
    expect((await endOf(promotedRunId)).type).toBe(EventTypes.EndpointUpdated);
    rejectedRunId = await upload(churnCsv(3000, 3, { noise: true }));
    expect((await endOf(rejectedRunId)).type).toBe(EventTypes.ModelRejected);
    // Drifted data: the served model no longer fits, so a second model is promoted (two points on the chart).
    expect((await endOf(await upload(churnCsv(4000, 4, { drift: true })))).type).toBe(EventTypes.EndpointUpdated);
    // The run's spans reach the registry through the collector.
    await waitFor(
      async () => {
        await collector.forwarded();
        const answer = await fetch(`${deployment.registry.url}/v1/runs/${promotedRunId}/spans`, { headers: { authorization: `Bearer ${deployment.adminKey}` } });
        const spans = ((await answer.json()) as { value: Array<{ serviceName: string }> }).value;
        return new Set(spans.map((s) => s.serviceName)).has("retrain-scoring");
      },
      { timeoutMs: 30_000, description: "the promoted run's spans at the registry" },
    );

    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    cleanup.add(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.startsWith("/v1/")) apiRequests.push({ url: request.url(), authorization: request.headers()["authorization"] });
    });
  }, 300_000);
  afterAll(() => cleanup.run(), 60_000);

  it("asks for the key once, then lists the runs; the outcome filter narrows the list", async () => {
    await page.goto(`${deployment.registry.url}/ui`);
    await page.fill("#key", deployment.adminKey);
    await page.click("button[type=submit]");
    await page.waitForSelector('body[data-ready="/runs"]');
    const listed = await page.$$eval("#runs tr[data-run]", (rows) => rows.map((row) => row.getAttribute("data-run")));
    expect(listed).toEqual(expect.arrayContaining([promotedRunId, rejectedRunId]));
    expect(await page.textContent(`#runs tr[data-run="${promotedRunId}"]`)).toContain("promoted");
    await page.screenshot({ path: join(ARTIFACTS, "ui-runs.png"), fullPage: true });

    await page.selectOption("#filter-outcome", "rejected");
    // The page's CSP forbids evaluating strings: poll the rendered rows instead.
    await waitFor(async () => {
      const rows = await page.$$eval("#runs tr[data-run]", (trs) => trs.map((tr) => tr.getAttribute("data-run")));
      return rows.length === 1 && rows[0] === rejectedRunId;
    }, { timeoutMs: 15_000, description: "only the rejected run listed" });
    expect(page.url()).toContain("outcome=rejected");
    // The key stays in the tab's session storage and travels as a Bearer header, never in a URL.
    expect(apiRequests.length).toBeGreaterThan(0);
    expect(apiRequests.every((r) => r.authorization === `Bearer ${deployment.adminKey}` && !r.url.includes(deployment.adminKey))).toBe(true);
    const stored = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem("retrain.key"));
    expect(stored).toBe(deployment.adminKey);
  }, 60_000);

  it("a run's waterfall shows every stage of its timeline and the services' spans", async () => {
    await page.goto(`${deployment.registry.url}/ui#/runs/${promotedRunId}`);
    await page.waitForSelector(`body[data-ready="/runs/${promotedRunId}"]`);
    const timeline = (await (await fetch(`${deployment.registry.url}/v1/runs/${promotedRunId}`, { headers: { authorization: `Bearer ${deployment.adminKey}` } })).json()) as { stages: Array<{ stage: string }> };
    const drawn = await page.$$eval("#waterfall g.stage", (rows) => rows.map((row) => row.getAttribute("data-stage")));
    expect(drawn).toEqual(timeline.stages.map((s) => s.stage));
    expect(drawn).toEqual(["received", "trained", "approved", "updated"]);
    expect(await page.$$eval("#waterfall rect.bar.ok", (bars) => bars.length)).toBe(4);
    const spanLabels = await page.$$eval("#waterfall g.span text:first-child", (texts) => texts.map((t) => t.textContent ?? ""));
    expect(spanLabels.some((label) => label.startsWith("trainer: bes job churn-training"))).toBe(true);
    expect(spanLabels.some((label) => label.startsWith("scoring: PATCH"))).toBe(true);
    expect(await page.textContent("#run-outcome")).toBe("promoted");
    await page.screenshot({ path: join(ARTIFACTS, "ui-run.png"), fullPage: true });
  }, 60_000);

  it("an endpoint's model history charts the primary metric over time; the dead-letter list shows its state", async () => {
    // The registry names a target as the pipeline does (web service by name).
    const target = "classic:e2e/churn/ep1";
    await page.goto(`${deployment.registry.url}/ui#/endpoints?target=${encodeURIComponent(target)}`);
    await page.waitForSelector('body[data-ready="/endpoints"]');
    expect(await page.$$eval("#metric-chart circle", (dots) => dots.length)).toBe(2);
    expect(await page.textContent("#history")).toContain(promotedRunId);
    expect(await page.inputValue("#metric")).toBe("AUC");
    await page.screenshot({ path: join(ARTIFACTS, "ui-endpoint.png"), fullPage: true });

    await page.goto(`${deployment.registry.url}/ui#/deadletters`);
    await page.waitForSelector('body[data-ready="/deadletters"]');
    // No event was dead-lettered in this deployment: the list (or, before the registry lists them, its notice) is empty.
    expect(await page.$$eval("#deadletters tbody tr", (rows) => rows.length).catch(() => 0)).toBe(0);
    expect(await page.isVisible("#no-deadletters")).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "ui-deadletters.png"), fullPage: true });
  }, 60_000);
});
