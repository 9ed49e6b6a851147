// Creates a Retrain deployment's Service Bus entities on a real namespace (docs/servicebus.md):
// the topic (duplicate detection on) and one subscription per consumer group. Run it once per
// deployment (or from a setup job) when services start with SERVICEBUS_CREATE_ENTITIES=false, e.g.
// because their identity may send and listen but not manage.
//
//   pnpm --filter @retrain/bus exec tsc -b && node scripts/servicebus-topology.mjs \
//     --connection-string "$SERVICEBUS_CONNECTION_STRING" --topic retrain
//   node scripts/servicebus-topology.mjs --namespace my-ns.servicebus.windows.net --topic retrain \
//     --group trainer=retrain.data.arrived.v1 --group evaluator=retrain.model.trained.v1
//
// Without --group, every consumer group of Retrain's services is created. A group given as
// name=type,type also gets its type rules now; otherwise each service sets its subscription's rules
// over AMQP when it starts (until then the subscription's $Default rule takes every event, and the
// runner acknowledges those it does not handle). Idempotent: existing entities keep their settings.
import { parseArgs } from "node:util";
import { ensureServiceBusTopology } from "../packages/bus/dist/index.js";

/** The consumer groups of Retrain's services (packages/*, services/*: `bus.subscribe({ group })`). */
const RETRAIN_GROUPS = [
  "ingestion",
  "ingestion-redrive",
  "trainer",
  "trainer-run-control",
  "trainer-redrive",
  "trainer-jobs",
  "evaluator",
  "evaluator-run-control",
  "evaluator-redrive",
  "classic-promoter",
  "classic-promoter-run-control",
  "classic-promoter-redrive",
  "new-promoter",
  "new-promoter-run-control",
  "new-promoter-redrive",
  "scoring-jobs",
  "registry",
  "notifier",
];

const { values } = parseArgs({
  options: {
    "connection-string": { type: "string" },
    namespace: { type: "string" },
    topic: { type: "string", default: "retrain" },
    group: { type: "string", multiple: true },
    "lock-duration-ms": { type: "string", default: "30000" },
    "max-delivery-count": { type: "string", default: "10" },
    "duplicate-window-ms": { type: "string", default: "120000" },
    "dry-run": { type: "boolean", default: false },
  },
});

const groups = (values.group ?? RETRAIN_GROUPS).map((spec) => {
  const [group, types = ""] = spec.split("=");
  return { group, types: types.split(",").filter(Boolean) };
});
const settings = {
  lockDurationMs: Number(values["lock-duration-ms"]),
  maxDeliveryCount: Number(values["max-delivery-count"]),
  duplicateWindowMs: Number(values["duplicate-window-ms"]),
};

console.log(`topic ${values.topic}: duplicate detection ${settings.duplicateWindowMs} ms`);
for (const { group, types } of groups) {
  console.log(`  subscription ${group}: lock ${settings.lockDurationMs} ms, max delivery count ${settings.maxDeliveryCount}${types.length > 0 ? `, rules for ${types.join(", ")}` : ""}`);
}
if (values["dry-run"]) process.exit(0);

const access =
  values["connection-string"] !== undefined
    ? { connectionString: values["connection-string"] }
    : values.namespace !== undefined
      ? { namespace: values.namespace } // signed in with DefaultAzureCredential
      : undefined;
if (access === undefined) {
  console.error("give --connection-string or --namespace (Entra ID through DefaultAzureCredential)");
  process.exit(2);
}
await ensureServiceBusTopology({ access, topic: values.topic, groups, ...settings });
console.log("done");
