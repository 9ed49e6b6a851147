// Datasets for chaos runs: churn-like rows whose signal flips with `drift`, so a run trained on one
// direction beats a champion trained on the other and most runs are approved and promoted.
import { SeededRandom } from "@retrain/ml";

/** A CSV of `rows` rows (tenure, charges, plan, label); the same arguments give the same bytes. */
export function churnCsv(rows: number, seed: number, drift = false): string {
  const random = new SeededRandom(seed);
  const lines = ["tenure,charges,plan,label"];
  for (let i = 0; i < rows; i++) {
    const tenure = random.nextFloat() * 60;
    const charges = 20 + random.nextFloat() * 100;
    const plan = ["basic", "plus", "pro"][random.nextInt(3)] ?? "basic";
    const z = (drift ? -1 : 1) * (-0.08 * (tenure - 30) + 0.03 * (charges - 70)) + (plan === "basic" ? 0.5 : 0);
    const label = random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push(`${tenure.toFixed(1)},${charges.toFixed(2)},${plan},${label}`);
  }
  return lines.join("\n") + "\n";
}
