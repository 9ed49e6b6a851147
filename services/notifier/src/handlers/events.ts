import { CachedListing, isBlobError, readJson, type BlobStore } from "@retrain/blob";
import { EndpointTarget, RunPlan, targetKey, type AnyEvent } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import {
  deliveryBlob,
  deliveryIdFor,
  parseDelivery,
  parseRun,
  parseSubscription,
  pendingBlob,
  runBlob,
  SUBSCRIPTIONS_PREFIX,
  type DeliveryDocument,
  type SubscriptionDocument,
} from "../documents.js";
import { isSubscribable } from "../event-types.js";

/** What event handling needs. */
export interface EventHandlingDeps {
  readonly store: BlobStore;
  readonly logger: Logger;
  /** Runs whose workspace this process has already recorded (saves a write per event). */
  readonly recordedRuns?: Set<string>;
  /** The subscriptions, kept between events (saves a read per subscription per event). */
  readonly subscriptions: CachedListing<SubscriptionDocument>;
  readonly now?: () => Date;
}

const RECORDED_RUNS_KEPT = 10_000;

/** A delivery to attempt. */
export interface DeliveryKey {
  readonly subscriptionId: string;
  readonly deliveryId: string;
}

function field(data: unknown, name: string): unknown {
  return typeof data === "object" && data !== null && name in data ? (data as Record<string, unknown>)[name] : undefined;
}

function planOf(data: unknown): RunPlan | undefined {
  const parsed = RunPlan.safeParse(field(data, "plan"));
  return parsed.success ? parsed.data : undefined;
}

function targetOf(data: unknown): EndpointTarget | undefined {
  const parsed = EndpointTarget.safeParse(field(data, "target"));
  return parsed.success ? parsed.data : undefined;
}

/**
 * Whether an event passes a subscription's filter. `pipeline` compares the run's pipeline; `target`
 * (a target key such as `classic:ws/webService/endpoint`) matches an event about that target, or an
 * event whose run plans to promote to it (those carry the plan).
 */
export function matchesFilter(filter: SubscriptionDocument["filter"], event: AnyEvent): boolean {
  if (filter.pipeline !== undefined && field(event.data, "pipeline") !== filter.pipeline) return false;
  if (filter.target !== undefined) {
    const target = targetOf(event.data);
    if (target !== undefined) return targetKey(target) === filter.target;
    return planOf(event.data)?.targets.some((t) => targetKey(t) === filter.target) ?? false;
  }
  return true;
}

/**
 * The workspace an event belongs to: its plan's training web service's, a classic target's, or the
 * one recorded for its run by an earlier event that carried the plan. Events that carry a plan are
 * recorded here, so the later ones of the run (TrainingFailed, EndpointUpdated of a new web service) find it.
 */
export async function workspaceOf(event: AnyEvent, store: BlobStore, recordedRuns?: Set<string>): Promise<string | undefined> {
  const plan = planOf(event.data);
  const runId = field(event.data, "runId");
  if (plan !== undefined) {
    const workspace = plan.trainingWebService.workspace;
    if (typeof runId === "string" && recordedRuns?.has(runId) !== true) {
      try {
        await store.put(runBlob(runId), JSON.stringify({ runId, workspace, pipeline: plan.pipeline }), { contentType: "application/json", ifNoneMatch: "*" });
      } catch (error) {
        if (!isBlobError(error, "Conflict")) throw error;
      }
      if (recordedRuns !== undefined) {
        recordedRuns.add(runId);
        // Sets iterate in insertion order: forget the oldest.
        if (recordedRuns.size > RECORDED_RUNS_KEPT) recordedRuns.delete(recordedRuns.values().next().value ?? runId);
      }
    }
    return workspace;
  }
  const target = targetOf(event.data);
  if (target?.kind === "classic") return target.workspace;
  if (typeof runId !== "string") return undefined;
  return (await readJson(store, runBlob(runId), parseRun))?.value.workspace;
}

/** Every subscription, in id order (read afresh: for the API's list). */
export function allSubscriptions(store: BlobStore): Promise<SubscriptionDocument[]> {
  return subscriptionListing(store).values();
}

/**
 * The subscriptions as event handling reads them: one listing per event and a read only of what
 * changed since (this runs for every run event, so its cost must not grow with the number of
 * subscriptions read); every replica still sees a change at once.
 */
export function subscriptionListing(store: BlobStore): CachedListing<SubscriptionDocument> {
  return new CachedListing(store, SUBSCRIPTIONS_PREFIX, parseSubscription);
}

/**
 * Turns one bus event into one durable delivery per matching subscription and returns those to
 * attempt. Idempotent by event id: a redelivered event finds its deliveries and creates none again,
 * so a subscription never gets a second delivery of one event from the bus side.
 */
export async function handleEvent(event: AnyEvent, deps: EventHandlingDeps): Promise<DeliveryKey[]> {
  if (!isSubscribable(event.type)) return [];
  const subscriptions = (await deps.subscriptions.values()).filter((s) => s.types.includes(event.type) && matchesFilter(s.filter, event));
  if (subscriptions.length === 0) {
    // Still learn the run's workspace: a later event of this run may match a subscription.
    await workspaceOf(event, deps.store, deps.recordedRuns);
    return [];
  }
  const workspace = await workspaceOf(event, deps.store, deps.recordedRuns);
  const keys: DeliveryKey[] = [];
  for (const subscription of subscriptions) {
    if (subscription.workspace !== "*" && subscription.workspace !== workspace) {
      if (workspace === undefined) deps.logger.warn({ eventId: event.id, subscriptionId: subscription.id }, "event of an unknown workspace not delivered to a workspace subscription");
      continue;
    }
    const key = await ensureDelivery(subscription, event, deps);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

/**
 * Creates the delivery of `event` to `subscription` unless it exists. The pending marker is written
 * first: a pending delivery always has one (a marker without a pending delivery is cleaned by the scan),
 * so a crash at any point leaves nothing the scheduler cannot find.
 */
export async function ensureDelivery(subscription: SubscriptionDocument, event: AnyEvent, deps: EventHandlingDeps): Promise<DeliveryKey | undefined> {
  const deliveryId = deliveryIdFor(event.id);
  const name = deliveryBlob(subscription.id, deliveryId);
  const existing = await readJson(deps.store, name, parseDelivery);
  if (existing !== undefined && existing.value.state !== "pending") return undefined;
  await deps.store.put(pendingBlob(subscription.id, deliveryId), "", { contentType: "text/plain" });
  if (existing === undefined) {
    const now = (deps.now?.() ?? new Date()).toISOString();
    const runId = field(event.data, "runId");
    const doc: DeliveryDocument = {
      id: deliveryId,
      subscriptionId: subscription.id,
      eventId: event.id,
      eventType: event.type,
      ...(typeof runId === "string" ? { runId } : {}),
      event: JSON.parse(JSON.stringify(event)) as Record<string, unknown>,
      state: "pending",
      round: 1,
      attempts: [],
      nextAttemptAt: now,
      createdAt: now,
    };
    try {
      await deps.store.put(name, JSON.stringify(doc), { contentType: "application/json", ifNoneMatch: "*" });
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error;
    }
  }
  return { subscriptionId: subscription.id, deliveryId };
}
