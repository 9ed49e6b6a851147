import { createHash } from "node:crypto";
import { z } from "zod";

// The notifier's blobs, all under its own prefix:
//   notifier/subscriptions/<id>.json          a subscription (with its secret)
//   notifier/deliveries/<sub>/<delivery>.json one event for one subscription: its state and every attempt
//   notifier/pending/<sub>/<delivery>         an empty marker per unfinished delivery: what the scheduler scans
//   notifier/runs/<runId>.json                the workspace of a run, for events that do not carry it
export const SUBSCRIPTIONS_PREFIX = "notifier/subscriptions/";
export const DELIVERIES_PREFIX = "notifier/deliveries/";
export const PENDING_PREFIX = "notifier/pending/";
export const RUNS_PREFIX = "notifier/runs/";

/** Ids the notifier makes or accepts in paths: safe as one blob-name segment. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A webhook subscription as stored. */
export const SubscriptionDocument = z.object({
  id: z.string().regex(SAFE_ID),
  /** The workspace it belongs to, or `*` (made with the admin key: every workspace). */
  workspace: z.string().min(1),
  url: z.string().min(1),
  /** Full event type names. */
  types: z.array(z.string()).min(1),
  filter: z.object({ pipeline: z.string().optional(), target: z.string().optional() }),
  /** `whsec_<base64>`; returned once, at creation. */
  secret: z.string(),
  createdAt: z.string(),
  /** The key name that made it. */
  createdBy: z.string(),
});
export type SubscriptionDocument = z.infer<typeof SubscriptionDocument>;

/** One try to deliver. `in-flight` is written before the call, so a crash leaves a visible trace. */
export const Attempt = z.object({
  n: z.number().int().positive(),
  /** 1 for the first series of attempts; each replay starts the next. */
  round: z.number().int().positive(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  outcome: z.enum(["in-flight", "delivered", "failed", "interrupted"]),
  statusCode: z.number().int().optional(),
  latencyMs: z.number().nonnegative().optional(),
  error: z.string().optional(),
});
export type Attempt = z.infer<typeof Attempt>;

/** States of a delivery: `pending` until a 2xx (`delivered`), the last attempt failed (`dead`), or the subscription went away (`cancelled`). */
export const DeliveryState = z.enum(["pending", "delivered", "dead", "cancelled"]);
export type DeliveryState = z.infer<typeof DeliveryState>;

/** One event for one subscription. */
export const DeliveryDocument = z.object({
  id: z.string().regex(SAFE_ID),
  subscriptionId: z.string().regex(SAFE_ID),
  eventId: z.string(),
  eventType: z.string(),
  runId: z.string().optional(),
  /** The CloudEvent as it is POSTed (structured mode). */
  event: z.record(z.string(), z.unknown()),
  state: DeliveryState,
  round: z.number().int().positive(),
  attempts: z.array(Attempt),
  /** When the next attempt is due (pending only). */
  nextAttemptAt: z.string(),
  /** Who is attempting now and until when; another process takes over after `until`. */
  lease: z.object({ owner: z.string(), until: z.string() }).optional(),
  createdAt: z.string(),
  deliveredAt: z.string().optional(),
  deadAt: z.string().optional(),
  replayedAt: z.string().optional(),
});
export type DeliveryDocument = z.infer<typeof DeliveryDocument>;

/** The workspace of a run, learned from an event that carries its plan. */
export const RunDocument = z.object({ runId: z.string(), workspace: z.string(), pipeline: z.string().optional() });
export type RunDocument = z.infer<typeof RunDocument>;

/** Parses a stored subscription (a zod check, not a cast). */
export const parseSubscription = (value: unknown): SubscriptionDocument => SubscriptionDocument.parse(value);
/** Parses a stored delivery. */
export const parseDelivery = (value: unknown): DeliveryDocument => DeliveryDocument.parse(value);
/** Parses a stored run workspace record. */
export const parseRun = (value: unknown): RunDocument => RunDocument.parse(value);

/** The blob of a subscription. */
export function subscriptionBlob(id: string): string {
  return `${SUBSCRIPTIONS_PREFIX}${id}.json`;
}
/** The blob of one delivery (one event for one subscription). */
export function deliveryBlob(subscriptionId: string, deliveryId: string): string {
  return `${DELIVERIES_PREFIX}${subscriptionId}/${deliveryId}.json`;
}
/** The pending marker of an unfinished delivery. */
export function pendingBlob(subscriptionId: string, deliveryId: string): string {
  return `${PENDING_PREFIX}${subscriptionId}/${deliveryId}`;
}
/** The blob recording a run's workspace. */
export function runBlob(runId: string): string {
  return `${RUNS_PREFIX}${safeSegment(runId)}.json`;
}

/** A delivery's id: the event id when it is a safe blob-name segment (it always is for Retrain's ids), else its hash. */
export function deliveryIdFor(eventId: string): string {
  return safeSegment(eventId);
}

function safeSegment(text: string): string {
  return SAFE_ID.test(text) && text !== "." && text !== ".." ? text : createHash("sha256").update(text).digest("hex").slice(0, 40);
}

/** A pending marker's blob name back to its (subscription, delivery). */
export function parsePendingBlob(name: string): { subscriptionId: string; deliveryId: string } | undefined {
  const match = /^notifier\/pending\/([^/]+)\/([^/]+)$/.exec(name);
  return match?.[1] !== undefined && match[2] !== undefined ? { subscriptionId: match[1], deliveryId: match[2] } : undefined;
}
