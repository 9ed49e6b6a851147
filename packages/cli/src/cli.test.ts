// The CLI's own logic without a Retrain: formatting, arguments, exit codes, and failures to reach a server.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@retrain/testing";
import { parseCsv } from "./csv.js";
import { CliError } from "./errors.js";
import { exitCodeOfOutcome, outcomeLine, stageLine } from "./follow.js";
import { formatBytes, formatDuration, formatTime, progressBar, table } from "./output.js";
import { modelSourceOf } from "./commands/services.js";
import { parseTarget, targetKey } from "./targets.js";
import { retrain } from "./testing.js";

describe("output helpers", () => {
  it("table pads every column but the last to its widest cell and shows missing cells as '-'", () => {
    expect(table([["a", 1, null], ["long-name", 22, "x"]], ["NAME", "N", "NOTE"]).split("\n")).toEqual([
      "NAME       N   NOTE",
      "a          1   -",
      "long-name  22  x",
    ]);
  });

  it("formatDuration: ms under a second, tenths of seconds under a minute, then minutes and seconds", () => {
    expect([formatDuration(null), formatDuration(850.4), formatDuration(1234), formatDuration(59_949), formatDuration(125_000)]).toEqual(["-", "850 ms", "1.2 s", "59.9 s", "2 m 5 s"]);
  });

  it("formatTime shows UTC without milliseconds; formatBytes and progressBar", () => {
    expect(formatTime("2026-12-06T08:30:12.345Z")).toBe("2026-12-06 08:30:12");
    expect(formatTime(null)).toBe("-");
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 * 1024)]).toEqual(["512 B", "1.5 KiB", "3.0 MiB"]);
    expect(progressBar(512, 1024, 10)).toBe("[#####-----]  50%  512 B / 1.0 KiB");
    expect(progressBar(0, 0, 4)).toBe("[####] 100%  0 B / 0 B");
  });

  it("a timeline line and a run's outcome line", () => {
    expect(stageLine({ stage: "updated", at: "2026-12-06T08:30:12.345Z", durationMs: 1234, target: "classic:w/s/e", detail: "revision 2 (promotion)" })).toBe(
      "  updated          08:30:12  +1.2 s    classic:w/s/e  revision 2 (promotion)",
    );
    const run = { runId: "r1", pipeline: "p", runSequence: 3, outcome: "rejected", terminal: true, startedAt: null, lastEventAt: null, totalMs: 2100 };
    expect(outcomeLine({ ...run, stages: [{ stage: "rejected", at: "2026-12-06T08:30:12Z", durationMs: 5, detail: "AUC 0.51 < 0.6" }] })).toBe("run r1 (p #3) rejected after 2.1 s: AUC 0.51 < 0.6");
  });
});

describe("exit policy of a followed run", () => {
  it("0 for runs that ended normally (promoted, rejected, cancelled), 1 for failed training or promotion", () => {
    expect(["promoted", "rejected", "cancelled", "failed", "promotion-failed"].map(exitCodeOfOutcome)).toEqual([0, 0, 0, 1, 1]);
  });
});

describe("parseCsv", () => {
  it("reads quotes, doubled quotes, newlines in quotes, CRLF, a BOM and a missing last newline", () => {
    expect(parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\r\n"two\nlines",3')).toEqual({ columns: ["a", "b"], rows: [["x, y", 'say "hi"'], ["two\nlines", "3"]] });
  });

  it("refuses a row of another width, an open quote and an empty file, naming the file", () => {
    expect(() => parseCsv("a,b\n1\n", "f.csv")).toThrow("f.csv: row 2 has 1 values, the header has 2");
    expect(() => parseCsv('a\n"open\n', "f.csv")).toThrow("f.csv ends inside a quoted field");
    expect(() => parseCsv("\n\n", "f.csv")).toThrow(CliError);
  });
});

describe("targets", () => {
  it("reads <webservice>/<endpoint> in the workspace, classic: and new: keys, and a default endpoint where one applies", () => {
    expect(targetKey(parseTarget("churn/ep1", "e2e"))).toBe("classic:e2e/churn/ep1");
    expect(targetKey(parseTarget("classic:other/churn/ep1", "e2e"))).toBe("classic:other/churn/ep1");
    expect(targetKey(parseTarget("new:sub/rg/churn-arm", "e2e"))).toBe("new:sub/rg/churn-arm");
    expect(targetKey(parseTarget("churn", "e2e", "default"))).toBe("classic:e2e/churn/default");
  });

  it("refuses what is not a target as a usage error (exit 2)", () => {
    for (const text of ["churn", "a/b/c", "classic:w/s", "new:s//w", "/ep"]) {
      let error: unknown;
      try {
        parseTarget(text, "e2e");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(2);
    }
  });

  it("--model: an http(s) URL or store:<blob>", () => {
    expect(modelSourceOf("https://acct.blob.core.windows.net/c/m.ilearner?sv=1")).toEqual({ uri: "https://acct.blob.core.windows.net/c/m.ilearner?sv=1" });
    expect(modelSourceOf("store:trainer/jobs/x/output1.ilearner")).toEqual({ blob: "trainer/jobs/x/output1.ilearner" });
    expect(() => modelSourceOf("model.ilearner")).toThrow(/--model must be/);
  });
});

describe("the retrain command without a server", () => {
  let down = "";
  let dir = "";
  beforeAll(async () => {
    // A port nothing listens on: the OS just handed it out and it was closed again.
    down = `http://127.0.0.1:${await freePort()}`;
    dir = await mkdtemp(join(tmpdir(), "retrain-cli-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("server down → exit 3 and one line naming the service and the URL", async () => {
    const result = await retrain(["runs"], { url: down, key: "k" });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(new RegExp(`^retrain: cannot reach the registry at ${down}: .+\\n$`));
    expect(result.stderr.split("\n")).toHaveLength(2);
  });

  it("status with every service on one URL that is down → the one URL reported unreachable, exit 3", async () => {
    const result = await retrain(["status"], { url: down });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe(`${down}: unreachable\n`);
    expect(result.stderr).toBe(`retrain: cannot reach the ingestion, registry, evaluator, scoring at ${down}\n`);
  });

  it("server down with --json → the failure as one JSON document on stderr", async () => {
    const result = await retrain(["--json", "pipelines"], { url: down, key: "k" });
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stderr)).toEqual({ error: { code: "Unreachable", message: expect.stringContaining(`cannot reach the ingestion at ${down}`) } });
  });

  it("each service's own URL is used when given", async () => {
    const result = await retrain(["approve", "r1"], { url: "http://127.0.0.1:9", serviceUrls: { evaluator: down }, key: "k" });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot reach the evaluator at ${down}`);
  });

  it("usage errors → exit 2: a missing argument, a missing required option, a bad option value, a bad target", async () => {
    const missing = await retrain(["run"], { url: down });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'runId'");
    const noTo = await retrain(["rollback", "churn/ep1"], { url: down });
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain("--to <runId>");
    const outcome = await retrain(["runs", "--outcome", "bogus"], { url: down });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toBe("retrain: --outcome must be one of running, awaiting-approval, approved, failed, rejected, promoted, promotion-failed, cancelled (got 'bogus')\n");
    const top = await retrain(["runs", "--top", "ten"], { url: down });
    expect(top.code).toBe(2);
    const target = await retrain(["history", "churn"], { url: down });
    expect(target.code).toBe(2);
    expect(target.stderr).toContain("'churn' is not a target");
    const url = await retrain(["runs"], { url: "ftp://x" });
    expect(url.code).toBe(2);
  });

  it("a file that cannot be read → exit 1 before any server is called", async () => {
    const upload = await retrain(["upload", "churn", join(dir, "absent.csv")], { url: down, key: "k" });
    expect(upload.code).toBe(1);
    expect(upload.stderr).toMatch(/^retrain: cannot read .*absent\.csv: /);
    await writeFile(join(dir, "ragged.csv"), "a,b\n1\n");
    const score = await retrain(["score", "churn/ep1", join(dir, "ragged.csv")], { url: down, key: "k" });
    expect(score.code).toBe(1);
    expect(score.stderr).toContain("ragged.csv: row 2 has 1 values, the header has 2");
  });

  it("--help of upload documents the exit codes", async () => {
    const help = await retrain(["upload", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes:");
    expect(help.stdout).toMatch(/0 {2}the run ended normally: promoted, rejected/);
    expect(help.stdout).toMatch(/TrainingFailed or PromotionFailed/);
  });
});
