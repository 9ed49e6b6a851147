// Runs every jest test tier and ends with one plain summary line, computed from jest's JSON results,
// so a run that executed no test shows as such: `tests: N passed, M failed, K skipped`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, existsSync, rmSync } from "node:fs";

const out = ".test-results/jest.json";
mkdirSync(".test-results", { recursive: true });
if (existsSync(out)) rmSync(out);
const args = ["jest", "--json", `--outputFile=${out}`, ...process.argv.slice(2)];
const run = spawnSync("pnpm", ["exec", ...args], { stdio: "inherit", env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? "0" } });

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(out)) {
  const results = JSON.parse(readFileSync(out, "utf8"));
  passed = results.numPassedTests;
  failed = results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  skipped = results.numPendingTests + results.numTodoTests;
  for (const suite of results.testResults) {
    if (suite.status === "failed" && suite.assertionResults.length === 0) {
      console.log(`suite failed to run: ${suite.name}\n${suite.message}`);
    }
  }
} else {
  failed = 1;
  console.log("jest wrote no results");
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
