import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import { HttpError } from "@retrain/service-kit";
import { DELIVERIES_PREFIX, deliveryBlob, parseDelivery, pendingBlob, SAFE_ID, type DeliveryDocument, type DeliveryState } from "../documents.js";
import { shortName } from "../event-types.js";

/** A delivery as the log shows it; `withEvent` adds the CloudEvent that is POSTed. */
export function deliveryView(doc: DeliveryDocument, withEvent = false): Record<string, unknown> {
  return {
    id: doc.id,
    subscriptionId: doc.subscriptionId,
    eventId: doc.eventId,
    eventType: doc.eventType,
    shortType: shortName(doc.eventType),
    runId: doc.runId ?? null,
    state: doc.state,
    attempts: doc.attempts,
    nextAttemptAt: doc.state === "pending" ? doc.nextAttemptAt : null,
    createdAt: doc.createdAt,
    deliveredAt: doc.deliveredAt ?? null,
    deadAt: doc.deadAt ?? null,
    replayedAt: doc.replayedAt ?? null,
    ...(withEvent ? { event: doc.event } : {}),
  };
}

/** A subscription's deliveries, newest first; `state` keeps one state (`dead`: the dead-letter list). */
export async function listDeliveries(store: BlobStore, subscriptionId: string, state?: DeliveryState): Promise<DeliveryDocument[]> {
  const out: DeliveryDocument[] = [];
  for await (const blob of store.list(`${DELIVERIES_PREFIX}${subscriptionId}/`)) {
    const doc = await readJson(store, blob.name, parseDelivery);
    if (doc !== undefined && (state === undefined || doc.value.state === state)) out.push(doc.value);
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
}

/** One delivery of a subscription, else 404. */
export async function getDelivery(store: BlobStore, subscriptionId: string, deliveryId: string): Promise<DeliveryDocument> {
  const doc = SAFE_ID.test(deliveryId) ? await readJson(store, deliveryBlob(subscriptionId, deliveryId), parseDelivery) : undefined;
  if (doc === undefined) throw new HttpError(404, "NotFound", `No delivery '${deliveryId}' for subscription '${subscriptionId}'.`);
  return doc.value;
}

/**
 * Replays a dead delivery: a new round of attempts, due now, with the same `webhook-id` (the receiver
 * never acknowledged it). A pending one is left as it is (asking twice is harmless); a delivered or
 * cancelled one is refused with 409. The marker is written before and after the change, so a crash
 * cannot leave a pending delivery the scheduler does not see.
 */
export async function replayDelivery(store: BlobStore, subscriptionId: string, deliveryId: string, now: Date = new Date()): Promise<DeliveryDocument> {
  const current = await getDelivery(store, subscriptionId, deliveryId);
  if (current.state === "delivered" || current.state === "cancelled") {
    throw new HttpError(409, "DeliveryNotFailed", `Delivery '${deliveryId}' is ${current.state}; only a failed (dead) delivery is replayed.`);
  }
  const marker = pendingBlob(subscriptionId, deliveryId);
  await store.put(marker, "", { contentType: "text/plain" });
  const result = await updateJson(store, deliveryBlob(subscriptionId, deliveryId), parseDelivery, (doc): DeliveryDocument | undefined => {
    if (doc === undefined || doc.state !== "dead") return undefined;
    const { deadAt: _deadAt, ...rest } = doc;
    return { ...rest, state: "pending", round: doc.round + 1, nextAttemptAt: now.toISOString(), replayedAt: now.toISOString() };
  });
  if (result.value === undefined) throw new HttpError(404, "NotFound", `No delivery '${deliveryId}' for subscription '${subscriptionId}'.`);
  if (result.value.state !== "pending") {
    throw new HttpError(409, "DeliveryNotFailed", `Delivery '${deliveryId}' is ${result.value.state}; only a failed (dead) delivery is replayed.`);
  }
  await store.put(marker, "", { contentType: "text/plain" });
  return result.value;
}
