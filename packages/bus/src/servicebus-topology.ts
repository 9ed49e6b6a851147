import type { CreateSubscriptionOptions, CreateTopicOptions, ServiceBusAdministrationClient, ServiceBusClient } from "@azure/service-bus";
import type * as ServiceBusSdk from "@azure/service-bus";
import type { TokenCredential } from "@azure/identity";
import { BusError, type BusErrorCode } from "./errors.js";

/** The application property a subscription's type rules match: the event type of a published event. */
export const EVENT_TYPE_PROPERTY = "retrain-event-type";
/** The application property of a dead-letter replay (or of any message meant for one group only). */
export const REPLAY_GROUP_PROPERTY = "retrain-replay-group";
/** The rule that routes replays addressed to the subscription's own group. */
export const REPLAY_RULE = "replay-to-group";

/** How to reach a namespace: a connection string, or a namespace and an Entra ID credential (default `DefaultAzureCredential`). */
export type ServiceBusAccess = { readonly connectionString: string } | { readonly namespace: string; readonly credential?: TokenCredential };

/** Entity settings the adapter (or the topology script) creates entities with. */
export interface ServiceBusEntitySettings {
  /** The topic's duplicate-detection window for `messageId`. Default 120 000 ms. */
  duplicateWindowMs?: number;
  /** How long a message lives in the topic's subscriptions. Default 7 days. */
  messageTimeToLiveMs?: number;
  /** A subscription's peek-lock duration (clamped to Service Bus's 5 s – 5 min). Default 30 000 ms. */
  lockDurationMs?: number;
  /**
   * The broker's own dead-lettering after this many deliveries. The runner dead-letters first (at a
   * subscription's `maxAttempts`); this is the backstop for a handler that crashes its process every
   * time. Default 10.
   */
  maxDeliveryCount?: number;
}

/** One consumer group and the event types its subscription receives. */
export interface GroupTopology {
  readonly group: string;
  readonly types: readonly string[];
}

/** The rule name of an event type on a subscription (Service Bus allows 50 characters). */
export function typeRuleName(type: string): string {
  return `type-${type.replace(/[^A-Za-z0-9._-]/g, "-")}`.slice(0, 50);
}

/** An ISO 8601 duration of whole seconds (what the administration API takes). */
export function isoDuration(ms: number): string {
  return `PT${Math.max(1, Math.round(ms / 1000))}S`;
}

/**
 * The Service Bus SDK, loaded on first use: it costs about a second of start-up, which processes
 * on another bus (every service imports this package) must not pay.
 */
export function serviceBusSdk(): Promise<typeof ServiceBusSdk> {
  return import("@azure/service-bus");
}

/** The credential of a namespace access; Entra ID sign-in is loaded only when it is needed. */
async function credentialOf(access: { readonly credential?: TokenCredential }): Promise<TokenCredential> {
  return access.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
}

/** A Service Bus client (AMQP) for `access`. */
export async function serviceBusClient(access: ServiceBusAccess, options: { identifier?: string } = {}): Promise<ServiceBusClient> {
  const { ServiceBusClient: Client } = await serviceBusSdk();
  return "connectionString" in access ? new Client(access.connectionString, options) : new Client(access.namespace, await credentialOf(access), options);
}

/** A Service Bus administration client (HTTPS) for `access`. */
export async function administrationClient(access: ServiceBusAccess): Promise<ServiceBusAdministrationClient> {
  const { ServiceBusAdministrationClient: Admin } = await serviceBusSdk();
  return "connectionString" in access ? new Admin(access.connectionString) : new Admin(access.namespace, await credentialOf(access));
}

/** Creates the deployment's topic when missing (with duplicate detection on). */
export async function ensureTopic(admin: ServiceBusAdministrationClient, topic: string, settings: ServiceBusEntitySettings = {}): Promise<void> {
  try {
    if (await admin.topicExists(topic)) return;
    const options: CreateTopicOptions = {
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: isoDuration(settings.duplicateWindowMs ?? 120_000),
      defaultMessageTimeToLive: isoDuration(settings.messageTimeToLiveMs ?? 7 * 24 * 3_600_000),
    };
    await admin.createTopic(topic, options);
  } catch (error) {
    if (alreadyExists(error)) return; // another process created it first
    throw translateServiceBusError(error, "ConnectionFailed", `cannot create topic ${topic}`);
  }
}

/** Creates a group's subscription when missing. Rules are set separately ({@link syncRules}). */
export async function ensureSubscription(
  admin: ServiceBusAdministrationClient,
  topic: string,
  group: string,
  settings: ServiceBusEntitySettings = {},
): Promise<void> {
  try {
    if (await admin.subscriptionExists(topic, group)) return;
    const lockMs = Math.min(300_000, Math.max(5_000, settings.lockDurationMs ?? 30_000));
    const options: CreateSubscriptionOptions = {
      lockDuration: isoDuration(lockMs),
      maxDeliveryCount: settings.maxDeliveryCount ?? 10,
      deadLetteringOnFilterEvaluationExceptions: true,
      deadLetteringOnMessageExpiration: false,
      defaultMessageTimeToLive: isoDuration(settings.messageTimeToLiveMs ?? 7 * 24 * 3_600_000),
    };
    await admin.createSubscription(topic, group, options);
  } catch (error) {
    if (alreadyExists(error)) return;
    throw translateServiceBusError(error, "ConnectionFailed", `cannot create subscription ${topic}/${group}`, { group });
  }
}

/**
 * Sets a subscription's rules over AMQP (the `$management` node, so it works on any namespace or
 * peer): drops the catch-all `$Default`, adds one correlation rule per event type on
 * {@link EVENT_TYPE_PROPERTY}, and one on {@link REPLAY_GROUP_PROPERTY} = the group. Rules of types
 * no longer subscribed are left (their events are acknowledged unhandled by the runner).
 */
export async function syncRules(client: ServiceBusClient, topic: string, group: string, types: readonly string[]): Promise<void> {
  const rules = client.createRuleManager(topic, group);
  const add = async (name: string, properties: Record<string, string>) => {
    try {
      await rules.createRule(name, { applicationProperties: properties });
    } catch (error) {
      if (!alreadyExists(error)) throw error;
    }
  };
  try {
    for (const type of types) await add(typeRuleName(type), { [EVENT_TYPE_PROPERTY]: type });
    await add(REPLAY_RULE, { [REPLAY_GROUP_PROPERTY]: group });
    // Last, so the subscription never goes without a rule while it is set up.
    try {
      await rules.deleteRule("$Default");
    } catch (error) {
      if (!notFound(error)) throw error;
    }
  } catch (error) {
    throw translateServiceBusError(error, "ConnectionFailed", `cannot set the rules of subscription ${topic}/${group}`, { group });
  }
}

/** Options for {@link ensureServiceBusTopology}. */
export interface EnsureTopologyOptions extends ServiceBusEntitySettings {
  readonly access: ServiceBusAccess;
  readonly topic: string;
  readonly groups: readonly GroupTopology[];
}

/**
 * Creates a deployment's entities on a real namespace: the topic, one subscription per consumer
 * group, and the rules of each group given with types (a group without types keeps `$Default`
 * until its service starts and sets its rules). Idempotent; existing entities keep their settings.
 */
export async function ensureServiceBusTopology(options: EnsureTopologyOptions): Promise<void> {
  const admin = await administrationClient(options.access);
  await ensureTopic(admin, options.topic, options);
  const client = await serviceBusClient(options.access);
  try {
    for (const { group, types } of options.groups) {
      await ensureSubscription(admin, options.topic, group, options);
      if (types.length > 0) await syncRules(client, options.topic, group, types);
    }
  } finally {
    await client.close();
  }
}

/** The SDK's `ServiceBusError`, recognised without loading the SDK. */
function isServiceBusError(error: unknown): error is Error & { code: string; retryable: boolean } {
  return error instanceof Error && error.name === "ServiceBusError" && typeof (error as { code?: unknown }).code === "string";
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function alreadyExists(error: unknown): boolean {
  const code = codeOf(error);
  return code === "MessagingEntityAlreadyExists" || code === "MessageEntityAlreadyExistsError" || (error as { statusCode?: unknown } | null)?.statusCode === 409;
}

function notFound(error: unknown): boolean {
  const code = codeOf(error);
  return code === "MessagingEntityNotFound" || code === "MessageNotFound" || code === "MessageEntityNotFoundError";
}

/**
 * Translates a Service Bus SDK error (AMQP or administration REST) into a {@link BusError}: the
 * only place the adapter looks at vendor error codes.
 */
export function translateServiceBusError(
  error: unknown,
  code: BusErrorCode,
  message: string,
  context: ConstructorParameters<typeof BusError>[3] = {},
): BusError {
  if (error instanceof BusError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const full = { ...context, adapter: "servicebus" };
  if (isServiceBusError(error)) {
    switch (error.code) {
      case "MessagingEntityNotFound":
      case "MessageNotFound":
        return new BusError("NotFound", `${message}: ${text}`, false, full, { cause: error });
      case "ServiceTimeout":
        return new BusError("Timeout", `${message}: ${text}`, true, full, { cause: error });
      case "ServiceBusy":
      case "ServiceCommunicationProblem":
      case "QuotaExceeded":
        return new BusError("Unavailable", `${message}: ${text}`, true, full, { cause: error });
      case "UnauthorizedAccess":
        return new BusError("ConnectionFailed", `${message}: ${text}`, false, full, { cause: error });
      case "MessageSizeExceeded":
        return new BusError("InvalidArgument", `${message}: ${text}`, false, full, { cause: error });
      default:
        return new BusError(code, `${message}: ${text}`, error.retryable, full, { cause: error });
    }
  }
  const timeout = /timeout|timed out/i.test(text) || (error instanceof Error && error.name === "TimeoutError");
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (status === 404) return new BusError("NotFound", `${message}: ${text}`, false, full, { cause: error });
  if (status === 401 || status === 403) return new BusError("ConnectionFailed", `${message}: ${text}`, false, full, { cause: error });
  return new BusError(timeout ? "Timeout" : code, `${message}: ${text}`, true, full, { cause: error });
}
