// pnpm bench:csv — our streaming CSV reader vs a naive readline + split + Number reader, in the same
// run, on a generated 1M × 21 numeric CSV (BENCH_ROWS to change). Last line: one JSON object.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { readCsv, SeededRandom } from "@retrain/ml";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const FEATURES = 20;

async function generate(path) {
  const out = createWriteStream(path);
  const random = new SeededRandom(2024);
  const scales = [100, 1000, 10000, 100000];
  let batch = [...Array.from({ length: FEATURES }, (_, c) => `f${c}`), "label"].join(",") + "\n";
  for (let row = 0; row < ROWS; row++) {
    const parts = [];
    for (let c = 0; c < FEATURES; c++) {
      const scale = scales[c % 4];
      const units = random.nextInt(200 * scale) - 100 * scale;
      const magnitude = Math.abs(units);
      parts.push(`${units < 0 ? "-" : ""}${Math.floor(magnitude / scale)}.${String(magnitude % scale).padStart((c % 4) + 2, "0")}`);
    }
    parts.push(random.nextUint32() & 1 ? "1" : "0");
    batch += parts.join(",") + "\n";
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await new Promise((drained) => out.once("drain", drained));
      batch = "";
    }
  }
  out.end(batch);
  await new Promise((done, fail) => out.on("finish", done).on("error", fail));
}

async function naiveRead(path) {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let columns;
  for await (const line of lines) {
    const fields = line.split(",");
    if (columns === undefined) {
      columns = fields.map(() => []);
      continue;
    }
    for (let c = 0; c < fields.length; c++) columns[c].push(Number(fields[c]));
  }
  return columns ?? [];
}

const dir = await mkdtemp(join(tmpdir(), "retrain-csv-bench-"));
try {
  const path = join(dir, "bench.csv");
  await generate(path);
  const megabytes = (await stat(path)).size / 1e6;
  const t0 = performance.now();
  const frame = await readCsv(path);
  const ours = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const naive = await naiveRead(path);
  const baseline = (performance.now() - t1) / 1000;
  if (frame.rows !== ROWS || naive[0].length !== ROWS) throw new Error("row counts differ");
  console.log(`CSV read, ${ROWS} rows × ${FEATURES + 1} columns, ${megabytes.toFixed(1)} MB`);
  console.log(`  readCsv (byte parser):     ${ours.toFixed(2)} s  ${(megabytes / ours).toFixed(0)} MB/s`);
  console.log(`  readline + split + Number: ${baseline.toFixed(2)} s  ${(megabytes / baseline).toFixed(0)} MB/s`);
  console.log(JSON.stringify({ bench: "csv", rows: ROWS, ours_s: Number(ours.toFixed(3)), baseline_s: Number(baseline.toFixed(3)), ratio: Number((ours / baseline).toFixed(3)) }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
