// Not a threshold test: it prints how long reading a generated numeric CSV takes, next to a naive
// readline + split + Number reader in the same run. RETRAIN_CSV_BENCH_ROWS shrinks it (default 1M rows).
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { readCsv } from "./csv-read.js";
import { SeededRandom } from "./random.js";

const ROWS = Number(process.env.RETRAIN_CSV_BENCH_ROWS ?? 1_000_000);
const FEATURES = 20;

async function generate(path: string): Promise<void> {
  const out = createWriteStream(path);
  const random = new SeededRandom(2024);
  // Fixed-point texts built from random integers: toFixed() on 21M doubles would dominate the test.
  const scales = [100, 1000, 10000, 100000];
  // Globals are slow to reach inside jest's VM context: bind the ones the loop needs.
  const { abs, floor } = Math;
  const text = String;
  let batch = [...Array.from({ length: FEATURES }, (_, c) => `f${c}`), "label"].join(",") + "\n";
  for (let row = 0; row < ROWS; row++) {
    const parts: string[] = [];
    for (let c = 0; c < FEATURES; c++) {
      const digits = (c % 4) + 2;
      const scale = scales[c % 4] as number;
      const units = random.nextInt(200 * scale) - 100 * scale; // value × scale, in [-100, 100)
      const magnitude = abs(units);
      const fraction = text(magnitude % scale).padStart(digits, "0");
      parts.push(`${units < 0 ? "-" : ""}${floor(magnitude / scale)}.${fraction}`);
    }
    parts.push(random.nextUint32() & 1 ? "1" : "0");
    batch += parts.join(",") + "\n";
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await new Promise<void>((drained) => out.once("drain", () => drained()));
      batch = "";
    }
  }
  out.end(batch);
  await new Promise<void>((done, fail) => out.on("finish", done).on("error", fail));
}

/** The baseline: one string per line, split, Number() per field, plain arrays. */
async function naiveRead(path: string): Promise<number[][]> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const toNumber = Number; // bound locally: a global lookup per field is slow in jest's VM context
  let columns: number[][] | undefined;
  for await (const line of lines) {
    const fields = line.split(",");
    if (columns === undefined) {
      columns = fields.map(() => []);
      continue;
    }
    for (let c = 0; c < fields.length; c++) columns[c]?.push(toNumber(fields[c]));
  }
  return columns ?? [];
}

describe("readCsv performance (printed, not asserted)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "retrain-csv-bench-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`reads a generated ${ROWS} × ${FEATURES + 1} numeric CSV`, async () => {
    const path = join(dir, "bench.csv");
    await generate(path);
    const megabytes = (await stat(path)).size / 1e6;

    const t0 = performance.now();
    const frame = await readCsv(path);
    const ours = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const naive = await naiveRead(path);
    const baseline = (performance.now() - t1) / 1000;

    expect(frame.rows).toBe(ROWS);
    expect(frame.columns).toHaveLength(FEATURES + 1);
    const first = frame.columns[0];
    if (first?.kind !== "numeric") throw new Error("numeric expected");
    expect(Array.from(first.values.subarray(0, 1000))).toEqual(naive[0]?.slice(0, 1000));
    console.log(
      [
        `CSV read, ${ROWS} rows × ${FEATURES + 1} columns, ${megabytes.toFixed(1)} MB:`,
        `  readCsv (byte parser):     ${ours.toFixed(2)} s  ${(megabytes / ours).toFixed(0)} MB/s`,
        `  readline + split + Number: ${baseline.toFixed(2)} s  ${(megabytes / baseline).toFixed(0)} MB/s`,
      ].join("\n"),
    );
  }, 180_000);
});
