// Subscribe to Retrain's events straight from Azure Service Bus, with a subscription of your own
// filtered on the event type.
//
//   pnpm --filter @retrain/event-examples exec tsc -b && \
//     SERVICEBUS_CONNECTION_STRING='Endpoint=sb://…' RETRAIN_TOPIC=retrain SUBSCRIPTION=team-storefront \
//     node docs/examples/dist/servicebus-subscriber.js
//
// Retrain publishes every event to the deployment's topic (its SERVICEBUS_TOPIC, default `retrain`) as
// a structured-mode CloudEvent (JSON body, content type `application/cloudevents+json`) with the event
// type in the application property `retrain-event-type` (and in the message subject). A subscription
// whose rules match that property receives only the types you want; Service Bus keeps your position,
// your retries (abandon → redelivered, deliveryCount + 1) and your dead letters
// (`<topic>/Subscriptions/<name>/$DeadLetterQueue`) apart from Retrain's own subscriptions.
//
// The subscription is created once, by whoever administers the namespace — in code as below, or:
//   az servicebus topic subscription create -g <rg> --namespace-name <ns> --topic-name retrain -n team-storefront
//   az servicebus topic subscription rule create -g <rg> --namespace-name <ns> --topic-name retrain \
//     --subscription-name team-storefront -n retrain-types \
//     --filter-sql-expression "[retrain-event-type] IN ('retrain.endpoint.updated.v1', 'retrain.model.rejected.v1')"
//   az servicebus topic subscription rule delete -g <rg> --namespace-name <ns> --topic-name retrain --subscription-name team-storefront -n '$Default'
import { isServiceBusError, ServiceBusAdministrationClient, ServiceBusClient, type CorrelationRuleFilter, type ServiceBusReceivedMessage } from "@azure/service-bus";
import { catalog, decodeEvent, EventTypes, EventValidationError, parseEvent, type AnyEvent, type EventType } from "@retrain/contracts";

/** The application property that carries the CloudEvent type on every message Retrain sends. */
export const TYPE_PROPERTY = "retrain-event-type";

/** One correlation rule per type on {@link TYPE_PROPERTY} (a subscription's rules are OR-ed). */
export function typeRules(types: readonly EventType[]): Array<{ name: string; filter: CorrelationRuleFilter }> {
  return types.map((type) => ({ name: `type-${catalog[type].name}`, filter: { applicationProperties: { [TYPE_PROPERTY]: type } } }));
}

/**
 * Gives a subscription the type rules and then drops the catch-all `$Default` rule, over AMQP (Listen
 * rights are not enough: this needs Manage). Safe to run again.
 */
export async function setTypeRules(client: ServiceBusClient, topic: string, subscription: string, types: readonly EventType[]): Promise<void> {
  const rules = client.createRuleManager(topic, subscription);
  const ignore = (code: string) => (error: unknown) => {
    if (!isServiceBusError(error) || error.code !== code) throw error;
  };
  for (const rule of typeRules(types)) await rules.createRule(rule.name, rule.filter).catch(ignore("MessagingEntityAlreadyExists"));
  // Last, so the subscription never receives nothing while it is set up.
  await rules.deleteRule("$Default").catch(ignore("MessagingEntityNotFound"));
}

/**
 * Creates the subscription (administration API, HTTPS) unless it exists, then sets its type rules.
 * Needs Manage rights on the namespace; with only Listen rights, have an administrator run the `az`
 * commands above instead.
 */
export async function ensureSubscription(connectionString: string, topic: string, subscription: string, types: readonly EventType[]): Promise<void> {
  const admin = new ServiceBusAdministrationClient(connectionString);
  if (!(await admin.subscriptionExists(topic, subscription))) {
    await admin.createSubscription(topic, subscription, { maxDeliveryCount: 10, deadLetteringOnFilterEvaluationExceptions: true });
  }
  const client = new ServiceBusClient(connectionString);
  try {
    await setTypeRules(client, topic, subscription, types);
  } finally {
    await client.close();
  }
}

/** The event in a message: the body as bytes or text (decoded), or as already-parsed JSON (checked). */
export function eventOf(message: ServiceBusReceivedMessage): AnyEvent {
  const body: unknown = message.body;
  if (typeof body === "string" || body instanceof Uint8Array) return decodeEvent(body);
  return parseEvent(body);
}

/** Options for {@link receiveRetrainEvents}. */
export interface ReceiveOptions {
  readonly connectionString: string;
  /** The deployment's topic. */
  readonly topic: string;
  /** Your subscription on it (see {@link ensureSubscription}). */
  readonly subscription: string;
  /** Called once per valid event; throw to have it redelivered (abandon). */
  readonly onEvent: (event: AnyEvent) => Promise<void>;
  /** Called for a message that is not a valid Retrain event (it is dead-lettered with the reason). */
  readonly onInvalid?: (error: EventValidationError) => void;
}

/**
 * Receives from your subscription in peek-lock mode and validates every message with the contracts
 * package's schemas: a valid event is completed after `onEvent`, a throw abandons it (redelivered),
 * an invalid one is dead-lettered with the validation error as the reason.
 */
export async function receiveRetrainEvents(options: ReceiveOptions): Promise<{ close(): Promise<void> }> {
  const client = new ServiceBusClient(options.connectionString);
  const receiver = client.createReceiver(options.topic, options.subscription, { receiveMode: "peekLock" });
  // Event ids are deterministic per (run, type, target): skip what you already handled (persist it in production).
  const seen = new Set<string>();
  const subscription = receiver.subscribe(
    {
      processMessage: async (message) => {
        let event: AnyEvent;
        try {
          event = eventOf(message);
        } catch (error) {
          if (!(error instanceof EventValidationError)) throw error;
          options.onInvalid?.(error);
          await receiver.deadLetterMessage(message, { deadLetterReason: error.code, deadLetterErrorDescription: error.message.slice(0, 1024) });
          return;
        }
        if (!seen.has(event.id)) {
          await options.onEvent(event);
          seen.add(event.id);
        }
        // Returning completes the message; a throw above abandons it (autoCompleteMessages is on).
      },
      processError: async ({ error, errorSource }) => {
        console.error(`Service Bus ${errorSource}: ${error.message}`);
      },
    },
    { autoCompleteMessages: true, maxConcurrentCalls: 4 },
  );
  return {
    async close() {
      await subscription.close();
      await receiver.close();
      await client.close();
    },
  };
}

async function main(): Promise<void> {
  const connectionString = process.env["SERVICEBUS_CONNECTION_STRING"];
  if (connectionString === undefined) throw new Error("set SERVICEBUS_CONNECTION_STRING");
  const topic = process.env["RETRAIN_TOPIC"] ?? "retrain";
  const subscription = process.env["SUBSCRIPTION"] ?? "example-team";
  const types = [EventTypes.EndpointUpdated, EventTypes.ModelRejected];
  if (process.env["CREATE_SUBSCRIPTION"] === "1") await ensureSubscription(connectionString, topic, subscription, types);
  const running = await receiveRetrainEvents({
    connectionString,
    topic,
    subscription,
    onEvent: async (event) => {
      if (event.type === EventTypes.EndpointUpdated) {
        const { pipeline, runSequence, target, model, revision } = event.data;
        console.log(`${pipeline} run #${runSequence}: ${target.webService} now serves model ${model.modelId} (revision ${revision})`);
      } else {
        console.log(`${catalog[event.type].name} for run ${event.runid ?? "?"} (${event.id})`);
      }
    },
    onInvalid: (error) => console.error(`invalid event dead-lettered: ${error.message}`),
  });
  console.log(`receiving from ${topic}/Subscriptions/${subscription}; Ctrl-C to stop`);
  process.once("SIGINT", () => void running.close());
}

if (process.argv[1]?.endsWith("servicebus-subscriber.js")) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
