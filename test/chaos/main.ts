// `pnpm test:chaos [--runs N] [--kills K] [--broker-restarts B] [--concurrency C] [--seed S]`: the full
// fault-injection run (outside CI). Prints the summary table; exits 1 when a criterion fails.
import { parseArgs } from "node:util";
import { runChaos } from "./runner.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "100" },
    kills: { type: "string" },
    "broker-restarts": { type: "string" },
    concurrency: { type: "string", default: "4" },
    pipelines: { type: "string", default: "4" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
  },
});

function count(name: string, value: string | undefined, fallback: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number ≥ 0 (got ${value})`);
  return n;
}

const runs = count("runs", values.runs, 100);
const result = await runChaos({
  runs,
  // One kill per five runs and one broker restart per twenty, unless told otherwise.
  kills: count("kills", values.kills, Math.ceil(runs / 5)),
  brokerRestarts: count("broker-restarts", values["broker-restarts"], Math.ceil(runs / 20)),
  concurrency: count("concurrency", values.concurrency, 4),
  pipelines: count("pipelines", values.pipelines, 4),
  seed: count("seed", values.seed, 1),
  log: (line) => console.error(line),
});
console.log(result.summary.join("\n"));
process.exit(result.report.pass ? 0 : 1);
