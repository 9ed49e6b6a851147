// The churn dataset every cross-process suite trains on, and its training web service in retrain.yaml
// form: one generator, so that a seed means the same rows in every suite.
import { SeededRandom } from "@retrain/ml";

/** How a churn dataset departs from the plain relationship. */
export interface ChurnOptions {
  /** Labels are coin flips: a model trained on it is rejected. */
  readonly noise?: boolean;
  /** The relationship is reversed: the champion scores badly on it, a retrained model wins. */
  readonly drift?: boolean;
  /** Strength of the relationship (default 1). */
  readonly weight?: number;
}

/** `rows` customers (tenure, charges, plan) with a churn label, deterministic for a seed. */
export function churnCsv(rows: number, seed: number, options: ChurnOptions = {}): string {
  const random = new SeededRandom(seed);
  const direction = options.drift === true ? -1 : 1;
  const weight = options.weight ?? 1;
  const lines = ["tenure,charges,plan,label"];
  for (let i = 0; i < rows; i++) {
    const tenure = random.nextFloat() * 60;
    const charges = 20 + random.nextFloat() * 100;
    const plan = ["basic", "plus", "pro"][random.nextInt(3)] ?? "basic";
    const z = direction * weight * (-0.08 * (tenure - 30) + 0.03 * (charges - 70)) + (plan === "basic" ? 0.5 : 0);
    const label = options.noise === true ? random.nextInt(2) : random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push(`${tenure.toFixed(1)},${charges.toFixed(2)},${plan},${label}`);
  }
  return lines.join("\n") + "\n";
}

/** retrain.yaml lines declaring the `churn-training` training web service (workspace e2e) the suites train with. */
export const CHURN_TRAINING_SERVICE = [
  "trainingServices:",
  "  - { workspace: e2e, name: churn-training, learner: Two-Class Logistic Regression, label: label, parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1 } }",
] as const;
