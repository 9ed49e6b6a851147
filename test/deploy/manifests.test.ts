// Every Kubernetes manifest under deploy/k8s validated offline against the Kubernetes and KEDA schemas
// of its kind (kubernetes-models, @kubernetes-models/keda: no cluster, no network), then against
// Retrain's own rules; and proof that the check fails on broken manifests.
import { join } from "node:path";
import { EventTypes } from "@retrain/contracts";
import { root } from "../e2e/processes.js";
import { ManifestError, checkRules, loadManifests, parseManifests, validateSchema, type Manifest } from "./manifests.js";

const EVENT_TYPES = new Set<string>(Object.values(EventTypes));
const K8S = join(root, "deploy", "k8s");

describe("deploy/k8s manifests", () => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await loadManifests(K8S);
  });

  it("are all there: namespace, config, secrets, the NATS setup job, a Deployment, Service and PDB per service, KEDA for both buses", () => {
    const kinds = (kind: string) => manifests.filter((m) => m.body["kind"] === kind).map((m) => String((m.body["metadata"] as { name: string }).name));
    const services = ["ingestion", "trainer", "scoring", "evaluator", "classic-promoter", "new-promoter", "registry", "notifier"];
    expect(kinds("Namespace")).toEqual(["retrain"]);
    expect(kinds("Deployment").sort()).toEqual([...services].sort());
    expect(kinds("Service").sort()).toEqual([...services].sort());
    expect(kinds("PodDisruptionBudget").sort()).toEqual([...services].sort());
    expect(kinds("Job")).toEqual(["nats-setup"]);
    expect(kinds("TriggerAuthentication")).toEqual(["retrain-servicebus"]);
    const scaled = manifests.filter((m) => m.body["kind"] === "ScaledObject");
    const byTrigger = (type: string) =>
      scaled
        .filter((m) => JSON.stringify(m.body).includes(`"type":"${type}"`))
        .map((m) => String((m.body["metadata"] as { name: string }).name))
        .sort();
    expect(byTrigger("nats-jetstream")).toEqual(["classic-promoter", "evaluator", "new-promoter", "trainer"]);
    expect(byTrigger("azure-servicebus")).toEqual(["classic-promoter", "evaluator", "new-promoter", "trainer"]);
  });

  it("every document validates against the schema of its kind", () => {
    const failures: string[] = [];
    for (const manifest of manifests) {
      try {
        validateSchema(manifest);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    expect(manifests.length).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it("hold Retrain's rules: probes, limits, non-root, grace periods, resolvable references, KEDA naming the bus's stream and consumers", () => {
    expect(checkRules(manifests, EVENT_TYPES)).toEqual([]);
  });
});

describe("the manifest check fails on broken manifests", () => {
  const deployment = (spec: string) =>
    [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: { name: trainer, namespace: retrain }",
      "spec:",
      spec,
      "  selector: { matchLabels: { app.kubernetes.io/name: trainer } }",
      "  template:",
      "    metadata: { labels: { app.kubernetes.io/name: trainer } }",
      "    spec: { containers: [ { name: trainer, image: retrain/trainer:dev } ] }",
    ].join("\n");
  const schemaProblems = (text: string): string[] => {
    try {
      for (const manifest of parseManifests(text, "broken.yaml")) validateSchema(manifest);
      return [];
    } catch (error) {
      if (error instanceof ManifestError) return [...error.problems];
      throw error;
    }
  };

  it("accepts the well-formed control case (so the failures below are about the breakage)", () => {
    expect(schemaProblems(deployment("  replicas: 2"))).toEqual([]);
  });

  it("a Deployment with replicas: \"two\"", () => {
    expect(schemaProblems(deployment('  replicas: "two"'))).toEqual([expect.stringContaining("replicas must be integer")]);
  });

  it("a ScaledObject without scaleTargetRef", () => {
    const text = ["apiVersion: keda.sh/v1alpha1", "kind: ScaledObject", "metadata: { name: trainer }", "spec:", "  triggers: [ { type: nats-jetstream, metadata: { stream: RETRAIN_RETRAIN } } ]"].join("\n");
    expect(schemaProblems(text)).toEqual([expect.stringContaining("must have required property scaleTargetRef")]);
  });

  it("a ScaledObject trigger with a number where KEDA takes strings", () => {
    const text = ["apiVersion: keda.sh/v1alpha1", "kind: ScaledObject", "metadata: { name: trainer }", "spec:", "  scaleTargetRef: { name: trainer }", "  triggers: [ { type: nats-jetstream, metadata: { lagThreshold: 5 } } ]"].join("\n");
    expect(schemaProblems(text)).toEqual([expect.stringContaining("lagThreshold must be string")]);
  });

  it("a kind with no schema here (a typo, or a kind nobody added) fails instead of passing unvalidated", () => {
    expect(schemaProblems(deployment("  replicas: 2").replace("kind: Deployment", "kind: Deploymnet"))).toEqual([expect.stringContaining("no schema for apiVersion 'apps/v1' kind 'Deploymnet'")]);
    expect(schemaProblems("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: x }\nspec: {}")).toEqual([expect.stringContaining("no schema")]);
  });

  it("a misspelt top-level field and invalid YAML", () => {
    expect(schemaProblems(deployment("  replicas: 2").replace("spec:", "spek:"))).toEqual(expect.arrayContaining([expect.stringContaining("unknown top-level field 'spek'")]));
    expect(() => parseManifests("kind: [unclosed", "broken.yaml")).toThrow(ManifestError);
  });

  it("the rules: a Deployment without probes, limits or non-root, and a ScaledObject pointing at nothing", async () => {
    const valid = await loadManifests(K8S);
    const broken = parseManifests(
      [
        deployment("  replicas: 1"),
        "---",
        "apiVersion: keda.sh/v1alpha1",
        "kind: ScaledObject",
        "metadata: { name: ghost }",
        "spec:",
        "  scaleTargetRef: { name: ghost }",
        "  triggers: [ { type: nats-jetstream, metadata: { stream: RETRAIN_RETRAIN, consumer: ghost__retrain-model-trained-v1 } } ]",
      ].join("\n"),
      "broken.yaml",
    );
    // The broken trainer replaces the valid one.
    const mixed = [...valid.filter((m) => !(m.body["kind"] === "Deployment" && (m.body["metadata"] as { name: string }).name === "trainer")), ...broken];
    const problems = checkRules(mixed, EVENT_TYPES);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining("Deployment trainer: pod securityContext.runAsNonRoot is not true"),
        expect.stringContaining("container trainer: readinessProbe is not GET /readyz"),
        expect.stringContaining("container trainer: livenessProbe is not GET /healthz"),
        expect.stringContaining("container trainer: no resources.limits.memory"),
        expect.stringContaining("ScaledObject ghost (broken.yaml#1): scaleTargetRef ghost is not a Deployment here"),
        expect.stringContaining("consumer ghost__retrain-model-trained-v1 is not created by the NATS setup job"),
      ]),
    );
  });
});
