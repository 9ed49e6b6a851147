// Seeded synthetic CSVs for `pnpm bench:train`, written once under bench/.data/ (gitignored) and reused.
// Binary: 20 features of different scales and offsets; the label's log-odds are linear in them plus an
// interaction and a square, so logistic regression fits most of it and boosted trees a bit more.
// Regression: a linear target plus a small sine and Gaussian noise.
import { createWriteStream, existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import { GaussianSource } from "../packages/ml/dist/learners/synthetic.js";

/** Bump when the generating process changes, so stale files are not reused. */
const VERSION = 1;

/** Writes (or reuses) the dataset `kind` ("binary" | "regression") and returns its path. */
export async function benchmarkCsv(dir, kind, rows, features, seed) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${rows}x${features}-seed${seed}-v${VERSION}.csv`);
  if (existsSync(file)) return file;
  const source = new GaussianSource(seed);
  const scale = Array.from({ length: features }, (_, j) => 1 + (j % 4));
  const offset = Array.from({ length: features }, (_, j) => j % 5);
  const beta = Array.from({ length: features }, (_, j) => (j % 3 === 0 ? 0 : (j % 2 ? 1 : -1) * (0.2 + 0.1 * (j % 5))));
  const temporary = `${file}.partial`;
  const out = createWriteStream(temporary);
  out.write(`${Array.from({ length: features }, (_, j) => `f${j}`).join(",")},label\n`);
  const u = new Float64Array(features);
  let lines = [];
  for (let i = 0; i < rows; i++) {
    const fields = new Array(features + 1);
    for (let j = 0; j < features; j++) {
      u[j] = source.next();
      fields[j] = (u[j] * scale[j] + offset[j]).toFixed(5);
    }
    let z = kind === "binary" ? -0.3 : 1;
    for (let j = 0; j < features; j++) z += beta[j] * u[j];
    if (kind === "binary") {
      z += 1.5 * Math.sin(u[0] * u[1]) + 0.5 * u[3] * u[3] - 0.5;
      fields[features] = source.uniform() < 1 / (1 + Math.exp(-z)) ? "1" : "0";
    } else {
      z += 0.5 * Math.sin(2 * u[0]) + 0.5 * source.next();
      fields[features] = z.toFixed(5);
    }
    lines.push(fields.join(","));
    if (lines.length === 20_000) {
      if (!out.write(`${lines.join("\n")}\n`)) await once(out, "drain");
      lines = [];
    }
  }
  if (lines.length > 0) out.write(`${lines.join("\n")}\n`);
  out.end();
  await once(out, "finish");
  renameSync(temporary, file);
  return file;
}
