// Offline checks of the Kubernetes manifests under deploy/k8s: every YAML document is validated
// against the Kubernetes (kubernetes-models) or KEDA (@kubernetes-models/keda) schema of its kind —
// a kind with no schema here fails, it is never waved through — and then against what Retrain needs
// of them (probes, limits, non-root, grace periods, references that resolve, KEDA triggers naming the
// stream and consumers the bus creates).
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";

/** One YAML document of a manifest file. */
export interface Manifest {
  /** `<file>#<index>` relative to the manifests' root, for messages. */
  readonly source: string;
  readonly body: Record<string, unknown>;
}

/** Thrown when a manifest breaks a schema or a rule; names the document and every problem. */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.join("; ")}`);
  }
}

type Validator = (body: unknown) => void;
// The schema of each kind Retrain deploys, by `apiVersion/kind`. Anything else is an error, so a typo
// in a kind (or a new kind nobody added here) cannot pass unvalidated.
const SCHEMAS: Readonly<Record<string, Validator>> = {
  "v1/Namespace": (b) => new Namespace(b as ConstructorParameters<typeof Namespace>[0]).validate(),
  "v1/ConfigMap": (b) => new ConfigMap(b as ConstructorParameters<typeof ConfigMap>[0]).validate(),
  "v1/Secret": (b) => new Secret(b as ConstructorParameters<typeof Secret>[0]).validate(),
  "v1/Service": (b) => new Service(b as ConstructorParameters<typeof Service>[0]).validate(),
  "apps/v1/Deployment": (b) => new Deployment(b as ConstructorParameters<typeof Deployment>[0]).validate(),
  "batch/v1/Job": (b) => new Job(b as ConstructorParameters<typeof Job>[0]).validate(),
  "policy/v1/PodDisruptionBudget": (b) => new PodDisruptionBudget(b as ConstructorParameters<typeof PodDisruptionBudget>[0]).validate(),
  "keda.sh/v1alpha1/ScaledObject": (b) => new ScaledObject(b as ConstructorParameters<typeof ScaledObject>[0]).validate(),
  "keda.sh/v1alpha1/TriggerAuthentication": (b) => new TriggerAuthentication(b as ConstructorParameters<typeof TriggerAuthentication>[0]).validate(),
};

// The schemas accept unknown properties; at least the top level is closed (a misspelt `spec` would
// otherwise validate as an object with no spec).
const TOP_LEVEL = new Set(["apiVersion", "kind", "metadata", "spec", "data", "stringData", "binaryData", "type", "immutable"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function at(value: unknown, ...path: Array<string | number>): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === "number") current = Array.isArray(current) ? current[key] : undefined;
    else current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Parses every document of one YAML text (empty documents skipped); a YAML error is a ManifestError. */
export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    const source = `${file}#${index}`;
    if (document.errors.length > 0) throw new ManifestError(source, document.errors.map((e) => e.message));
    const body: unknown = document.toJS();
    if (body === null || body === undefined) return;
    if (!isRecord(body)) throw new ManifestError(source, ["not a mapping"]);
    out.push({ source, body });
  });
  return out;
}

/** Every YAML document under `dir` (recursively), in file-name order. */
export async function loadManifests(dir: string): Promise<Manifest[]> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.ya?ml$/.test(f)).sort();
  const out: Manifest[] = [];
  for (const file of files) out.push(...parseManifests(await readFile(join(dir, file), "utf8"), relative(dir, join(dir, file))));
  return out;
}

/** Validates one document against the schema of its kind; throws a ManifestError naming the problems. */
export function validateSchema(manifest: Manifest): void {
  const { apiVersion, kind } = manifest.body;
  const problems: string[] = [];
  for (const key of Object.keys(manifest.body)) if (!TOP_LEVEL.has(key)) problems.push(`unknown top-level field '${key}'`);
  const validate = typeof apiVersion === "string" && typeof kind === "string" ? SCHEMAS[`${apiVersion}/${kind}`] : undefined;
  if (validate === undefined) {
    problems.push(`no schema for apiVersion '${String(apiVersion)}' kind '${String(kind)}' (known: ${Object.keys(SCHEMAS).join(", ")})`);
  } else {
    try {
      validate(manifest.body);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (problems.length > 0) throw new ManifestError(manifest.source, problems);
}

const kindOf = (m: Manifest) => String(m.body["kind"]);
const nameOf = (m: Manifest) => String(at(m.body, "metadata", "name"));

function durationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === "ms" ? value / 1000 : match[2] === "m" ? value * 60 : match[2] === "s" ? value : value / 1000;
}

function selects(selector: unknown, labels: unknown): boolean {
  const wanted = at(selector, "matchLabels") ?? selector;
  return isRecord(wanted) && Object.keys(wanted).length > 0 && isRecord(labels) && Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** The JetStream stream the bus uses for a deployment prefix (packages/bus/src/nats-bus.ts). */
export function streamName(prefix: string): string {
  return `RETRAIN_${prefix.toUpperCase().replace(/-/g, "_")}`;
}

/** A consumer group's durable for one event type, as the bus names it (packages/bus/src/nats-bus.ts). */
export function durableName(group: string, type: string): string {
  return `${group}__${type.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/** The consumers the NATS setup job creates: `<group> <event type> <ack wait s>` lines of its ConfigMap. */
export function setupJobConsumers(manifests: readonly Manifest[]): Array<{ group: string; type: string; durable: string; ackWaitSeconds: number }> {
  const config = manifests.find((m) => kindOf(m) === "ConfigMap" && nameOf(m) === "nats-setup");
  const text = at(config?.body, "data", "consumers");
  if (typeof text !== "string") throw new Error("no ConfigMap nats-setup with a 'consumers' entry");
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [group = "", type = "", ack = ""] = line.split(/\s+/);
      return { group, type, durable: durableName(group, type), ackWaitSeconds: Number(ack) };
    });
}

/** The platform ConfigMap's NATS_PREFIX. */
export function natsPrefix(manifests: readonly Manifest[]): string {
  const platform = manifests.find((m) => kindOf(m) === "ConfigMap" && nameOf(m) === "retrain-platform");
  const prefix = at(platform?.body, "data", "NATS_PREFIX");
  if (typeof prefix !== "string") throw new Error("no ConfigMap retrain-platform with NATS_PREFIX");
  return prefix;
}

/**
 * What Retrain needs of the manifests beyond their schemas; returns one line per problem (empty when
 * all hold). `eventTypes` are the event types of the contracts catalog.
 */
export function checkRules(manifests: readonly Manifest[], eventTypes: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => manifests.filter((m) => kindOf(m) === kind);
  const secrets = new Map(byKind("Secret").map((m) => [nameOf(m), { ...(isRecord(m.body["stringData"]) ? m.body["stringData"] : {}), ...(isRecord(m.body["data"]) ? m.body["data"] : {}) }]));
  const configMaps = new Map(byKind("ConfigMap").map((m) => [nameOf(m), isRecord(m.body["data"]) ? m.body["data"] : {}]));
  const deployments = byKind("Deployment");

  for (const [name, values] of secrets) {
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== "string" || !value.includes("REPLACE-ME")) problems.push(`Secret ${name}: '${key}' is not a clearly marked placeholder (REPLACE-ME)`);
    }
  }

  for (const m of [...deployments, ...byKind("Job")]) {
    const where = `${kindOf(m)} ${nameOf(m)}`;
    const pod = at(m.body, "spec", "template", "spec");
    if (at(pod, "securityContext", "runAsNonRoot") !== true) problems.push(`${where}: pod securityContext.runAsNonRoot is not true`);
    const uid = at(pod, "securityContext", "runAsUser");
    if (typeof uid !== "number" || uid === 0) problems.push(`${where}: pod securityContext.runAsUser is not a non-zero uid`);
    for (const container of list(at(pod, "containers"))) {
      const c = `${where} container ${String(at(container, "name"))}`;
      if (at(container, "securityContext", "allowPrivilegeEscalation") !== false) problems.push(`${c}: allowPrivilegeEscalation is not false`);
      for (const bound of ["requests", "limits"]) {
        for (const resource of ["cpu", "memory"]) if (at(container, "resources", bound, resource) === undefined) problems.push(`${c}: no resources.${bound}.${resource}`);
      }
      const env = list(at(container, "env"));
      for (const entry of env) {
        const secretRef = at(entry, "valueFrom", "secretKeyRef");
        if (secretRef !== undefined && !(String(at(secretRef, "key")) in (secrets.get(String(at(secretRef, "name"))) ?? {}))) {
          problems.push(`${c}: env ${String(at(entry, "name"))} names secret key ${String(at(secretRef, "name"))}/${String(at(secretRef, "key"))}, which no Secret here has`);
        }
        const configRef = at(entry, "valueFrom", "configMapKeyRef");
        if (configRef !== undefined && !(String(at(configRef, "key")) in (configMaps.get(String(at(configRef, "name"))) ?? {}))) {
          problems.push(`${c}: env ${String(at(entry, "name"))} names ConfigMap key ${String(at(configRef, "name"))}/${String(at(configRef, "key"))}, which no ConfigMap here has`);
        }
      }
      for (const from of list(at(container, "envFrom"))) {
        const name = at(from, "configMapRef", "name");
        if (name !== undefined && !configMaps.has(String(name))) problems.push(`${c}: envFrom names ConfigMap ${String(name)}, which is not here`);
      }
      if (kindOf(m) !== "Deployment") continue;
      if (at(container, "readinessProbe", "httpGet", "path") !== "/readyz") problems.push(`${c}: readinessProbe is not GET /readyz`);
      if (at(container, "livenessProbe", "httpGet", "path") !== "/healthz") problems.push(`${c}: livenessProbe is not GET /healthz`);
      // The pod must outlive its own shutdown grace: preStop, then SHUTDOWN_GRACE, then closing.
      const ownGrace = env.find((e) => at(e, "name") === "SHUTDOWN_GRACE");
      const graceText = ownGrace !== undefined ? at(ownGrace, "value") : configMaps.get("retrain-platform")?.["SHUTDOWN_GRACE"];
      const grace = typeof graceText === "string" ? durationSeconds(graceText) : 10;
      const preStop = list(at(container, "lifecycle", "preStop", "exec", "command"));
      const preStopSeconds = preStop[0] === "sleep" ? Number(preStop[1]) : 0;
      const termination = at(pod, "terminationGracePeriodSeconds");
      if (typeof termination !== "number" || !(termination > grace + preStopSeconds)) {
        problems.push(`${c}: terminationGracePeriodSeconds ${String(termination)} does not exceed preStop ${preStopSeconds} s + SHUTDOWN_GRACE ${grace} s`);
      }
    }
  }

  for (const d of deployments) {
    const labels = at(d.body, "spec", "template", "metadata", "labels");
    if (!selects(at(d.body, "spec", "selector"), labels)) problems.push(`Deployment ${nameOf(d)}: its selector does not select its own pods`);
    if (!byKind("Service").some((s) => selects(at(s.body, "spec", "selector"), labels))) problems.push(`Deployment ${nameOf(d)}: no Service selects its pods`);
    if (!byKind("PodDisruptionBudget").some((p) => selects(at(p.body, "spec", "selector"), labels))) problems.push(`Deployment ${nameOf(d)}: no PodDisruptionBudget covers it`);
  }

  const consumers = configMaps.has("nats-setup") ? setupJobConsumers(manifests) : [];
  for (const consumer of consumers) {
    if (!eventTypes.has(consumer.type)) problems.push(`nats-setup consumer ${consumer.durable}: '${consumer.type}' is not an event type of the contracts`);
    if (!(consumer.ackWaitSeconds > 0)) problems.push(`nats-setup consumer ${consumer.durable}: ack wait is not a positive number of seconds`);
  }
  const stream = configMaps.has("retrain-platform") ? streamName(natsPrefix(manifests)) : undefined;
  const authentications = new Set(byKind("TriggerAuthentication").map(nameOf));
  for (const auth of byKind("TriggerAuthentication")) {
    for (const ref of list(at(auth.body, "spec", "secretTargetRef"))) {
      if (!(String(at(ref, "key")) in (secrets.get(String(at(ref, "name"))) ?? {}))) problems.push(`TriggerAuthentication ${nameOf(auth)}: secret ${String(at(ref, "name"))}/${String(at(ref, "key"))} is not here`);
    }
  }
  for (const so of byKind("ScaledObject")) {
    const where = `ScaledObject ${nameOf(so)} (${so.source})`;
    const target = at(so.body, "spec", "scaleTargetRef", "name");
    if (!deployments.some((d) => nameOf(d) === target)) problems.push(`${where}: scaleTargetRef ${String(target)} is not a Deployment here`);
    for (const trigger of list(at(so.body, "spec", "triggers"))) {
      const type = at(trigger, "type");
      if (type === "nats-jetstream") {
        if (at(trigger, "metadata", "stream") !== stream) problems.push(`${where}: stream ${String(at(trigger, "metadata", "stream"))} is not the bus's ${String(stream)}`);
        const consumer = at(trigger, "metadata", "consumer");
        if (!consumers.some((c) => c.durable === consumer)) problems.push(`${where}: consumer ${String(consumer)} is not created by the NATS setup job`);
      } else if (type === "azure-servicebus") {
        const auth = at(trigger, "authenticationRef", "name");
        if (!authentications.has(String(auth))) problems.push(`${where}: authenticationRef ${String(auth)} is not a TriggerAuthentication here`);
        if (at(trigger, "metadata", "topicName") === undefined || at(trigger, "metadata", "subscriptionName") === undefined) problems.push(`${where}: azure-servicebus trigger without topicName and subscriptionName`);
      } else {
        problems.push(`${where}: trigger type ${String(type)} is neither nats-jetstream nor azure-servicebus`);
      }
    }
  }
  return problems;
}
