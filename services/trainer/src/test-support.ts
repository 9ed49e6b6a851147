// Synthetic datasets for the trainer's tests (seeded; no fixtures on disk).
import { SeededRandom } from "@retrain/ml";

/** A CSV of a logistic relationship: label = 1 with probability σ(1.5·x1 − 2·x2 + 0.5·[color=red]). */
export function binaryCsv(rows: number, seed = 1, options: { drift?: number } = {}): string {
  const random = new SeededRandom(seed);
  const drift = options.drift ?? 0;
  const lines = ["x1,x2,color,label"];
  for (let i = 0; i < rows; i++) {
    const x1 = random.nextFloat() * 4 - 2;
    const x2 = random.nextFloat() * 4 - 2;
    const color = ["red", "green", "blue"][random.nextInt(3)] ?? "red";
    const z = (1.5 + drift) * x1 - (2 - drift) * x2 + (color === "red" ? 0.5 : 0);
    const label = random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${color},${label}`);
  }
  return lines.join("\n") + "\n";
}
