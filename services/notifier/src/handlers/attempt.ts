import { isBlobError, readJson, updateJson, type BlobStore } from "@retrain/blob";
import { SecretBoxError } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import { deliveryBlob, parseDelivery, parseSubscription, pendingBlob, subscriptionBlob, type Attempt, type DeliveryDocument } from "../documents.js";
import { DeliveryAttemptError } from "../errors.js";
import { signWebhook } from "../signing.js";
import type { SubscriptionSecrets } from "../secrets.js";
import type { UrlPolicy } from "../url-policy.js";
import { callWebhook, judgeStatus } from "../webhook-client.js";

/** What a delivery attempt needs. */
export interface AttemptDeps {
  readonly store: BlobStore;
  readonly logger: Logger;
  readonly policy: UrlPolicy;
  /** Delay before attempt 2, 3, …; attempts per round = 1 + its length. */
  readonly retryScheduleMs: readonly number[];
  /** Deadline of one call. */
  readonly timeoutMs: number;
  /** This process's lease owner id. */
  readonly owner: string;
  /** Opens the subscription's sealed secret. */
  readonly secrets: SubscriptionSecrets;
  readonly now?: () => Date;
}

/** What {@link attemptDelivery} did. */
export type AttemptResult =
  | { readonly kind: "skipped"; readonly delivery?: DeliveryDocument }
  | { readonly kind: "attempted"; readonly delivery: DeliveryDocument; readonly attempt: Attempt | undefined };

const INTERRUPTED =
  "the notifier stopped before it recorded the answer (the receiver may have got this attempt; it dedupes by webhook-id)";

/** How long a claim keeps other processes off a delivery: the call's deadline plus time to record. */
export function leaseMs(timeoutMs: number): number {
  return timeoutMs + 10_000;
}

/**
 * One attempt of one delivery, if it is due and nobody holds it:
 *  1. claim it (compare-and-set: a lease and an `in-flight` attempt), so no second process sends it now;
 *  2. POST the CloudEvent, signed per Standard Webhooks with the event id as `webhook-id`;
 *  3. record the answer (compare-and-set): delivered, the next attempt's time, or dead.
 * Crash windows: before 1, nothing happened; between 1 and 2, the claim expires and the attempt shows as
 * interrupted, the receiver got nothing; between 2 and 3 — the receiver may have answered 2xx but the
 * notifier never wrote it down — the next attempt sends the event again. That duplicate cannot be avoided
 * by the sender (the ack and the record are not one step); it carries the same `webhook-id`, so the
 * receiver drops it, as the specification asks receivers to. Every other path delivers at most once per
 * acknowledgement: a delivered or dead delivery is never attempted again unless replayed.
 */
export async function attemptDelivery(subscriptionId: string, deliveryId: string, deps: AttemptDeps, signal?: AbortSignal): Promise<AttemptResult> {
  const now = () => deps.now?.() ?? new Date();
  const name = deliveryBlob(subscriptionId, deliveryId);
  let n = 0;
  const claim = await updateJson(deps.store, name, parseDelivery, (doc): DeliveryDocument | undefined => {
    if (doc === undefined || doc.state !== "pending") return undefined;
    const at = now();
    if (Date.parse(doc.nextAttemptAt) > at.getTime()) return undefined;
    if (doc.lease !== undefined && Date.parse(doc.lease.until) > at.getTime()) return undefined;
    const attempts = doc.attempts.map((a): Attempt => (a.outcome === "in-flight" ? { ...a, outcome: "interrupted", finishedAt: at.toISOString(), error: INTERRUPTED } : a));
    n = attempts.length + 1;
    return {
      ...doc,
      attempts: [...attempts, { n, round: doc.round, startedAt: at.toISOString(), outcome: "in-flight" }],
      lease: { owner: deps.owner, until: new Date(at.getTime() + leaseMs(deps.timeoutMs)).toISOString() },
    };
  });
  if (!claim.changed) return claim.value === undefined ? { kind: "skipped" } : { kind: "skipped", delivery: claim.value };
  const claimed = claim.value;

  const subscription = (await readJson(deps.store, subscriptionBlob(subscriptionId), parseSubscription))?.value;
  let outcome: { delivered: boolean; retryable: boolean; statusCode?: number; latencyMs?: number; error?: string; cancelled?: boolean };
  if (subscription === undefined) {
    outcome = { delivered: false, retryable: false, error: "the subscription was deleted", cancelled: true };
  } else {
    const body = JSON.stringify(claimed.event);
    const started = performance.now();
    try {
      // Inside the try: a secret that cannot be opened (RETRAIN_KEK missing or changed) is a failed, retried attempt.
      const signed = signWebhook(deps.secrets.open(subscription.id, subscription.secret), claimed.eventId, Math.floor(now().getTime() / 1000), body);
      const answer = await callWebhook({
        method: "POST",
        url: subscription.url,
        headers: { "content-type": "application/cloudevents+json", "user-agent": "retrain-notifier", ...signed },
        body,
        policy: deps.policy,
        timeoutMs: deps.timeoutMs,
        ...(signal !== undefined ? { signal } : {}),
      });
      const verdict = judgeStatus(answer.status);
      outcome = {
        delivered: verdict === "delivered",
        retryable: verdict === "retry",
        statusCode: answer.status,
        latencyMs: answer.latencyMs,
        ...(verdict === "delivered" ? {} : { error: `the receiver answered ${answer.status}${verdict === "final" ? " (not retried: only 5xx, 408 and 429 are)" : ""}` }),
      };
    } catch (error) {
      const failure =
        error instanceof DeliveryAttemptError
          ? error
          : error instanceof SecretBoxError
            ? new DeliveryAttemptError("Secret", `cannot open the subscription's secret: ${error.message}`, true, undefined, { cause: error })
            : new DeliveryAttemptError("Network", String(error), true, undefined, { cause: error });
      outcome = { delivered: false, retryable: failure.retryable, latencyMs: Math.round(performance.now() - started), error: `${failure.kind}: ${failure.message}` };
    }
  }

  const recorded = await updateJson(deps.store, name, parseDelivery, (doc): DeliveryDocument | undefined => {
    const mine = doc?.attempts.find((a) => a.n === n);
    // Taken over after the lease ran out: the other process marked this attempt interrupted; its view stands.
    if (doc === undefined || mine === undefined || mine.outcome !== "in-flight") return undefined;
    const at = now();
    const attempt: Attempt = {
      ...mine,
      finishedAt: at.toISOString(),
      outcome: outcome.delivered ? "delivered" : "failed",
      ...(outcome.statusCode !== undefined ? { statusCode: outcome.statusCode } : {}),
      ...(outcome.latencyMs !== undefined ? { latencyMs: outcome.latencyMs } : {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    };
    const attempts = doc.attempts.map((a) => (a.n === n ? attempt : a));
    const { lease: _lease, ...rest } = doc;
    if (outcome.delivered) return { ...rest, attempts, state: "delivered", deliveredAt: at.toISOString() };
    if (outcome.cancelled === true) return { ...rest, attempts, state: "cancelled" };
    const inRound = attempts.filter((a) => a.round === doc.round).length;
    const delay = deps.retryScheduleMs[inRound - 1];
    if (outcome.retryable && delay !== undefined) return { ...rest, attempts, nextAttemptAt: new Date(at.getTime() + delay).toISOString() };
    return { ...rest, attempts, state: "dead", deadAt: at.toISOString() };
  });
  const delivery = recorded.value ?? claimed;
  if (delivery.state !== "pending") await clearPendingMarker(deps.store, subscriptionId, deliveryId);
  const log = { subscriptionId, deliveryId, eventId: delivery.eventId, attempt: n, status: outcome.statusCode, state: delivery.state };
  if (delivery.state === "dead") deps.logger.warn({ ...log, reason: outcome.error }, "webhook delivery dead-lettered");
  else deps.logger.debug(log, "webhook delivery attempted");
  return { kind: "attempted", delivery, attempt: delivery.attempts.find((a) => a.n === n) };
}

/**
 * Removes a delivery's pending marker once the delivery is finished. Conditional on the marker read
 * before the delivery was checked, so a replay that re-marked it meanwhile keeps its marker.
 */
export async function clearPendingMarker(store: BlobStore, subscriptionId: string, deliveryId: string): Promise<void> {
  const marker = await store.head(pendingBlob(subscriptionId, deliveryId));
  if (marker === undefined) return;
  const doc = await readJson(store, deliveryBlob(subscriptionId, deliveryId), parseDelivery);
  if (doc !== undefined && doc.value.state === "pending") return;
  try {
    await store.delete(pendingBlob(subscriptionId, deliveryId), { ifMatch: marker.etag });
  } catch (error) {
    if (!isBlobError(error, "Conflict")) throw error;
  }
}
