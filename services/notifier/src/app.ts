import { randomUUID } from "node:crypto";
import type { BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import type { AnyEvent } from "@retrain/contracts";
import { HttpError, principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type MetricsRegistry, type Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { Router } from "express";
import { z } from "zod";
import { Dispatcher } from "./dispatcher.js";
import { DeliveryRetention } from "./retention.js";
import { SubscriptionSecrets } from "./secrets.js";
import { DeliveryState } from "./documents.js";
import { SUBSCRIBABLE_TYPES } from "./event-types.js";
import { deliveryView, getDelivery, listDeliveries, replayDelivery } from "./handlers/deliveries.js";
import { handleEvent, subscriptionListing } from "./handlers/events.js";
import { createSubscription, CreateSubscriptionBody, deleteSubscription, listSubscriptions, subscriptionView, visibleSubscription } from "./handlers/subscriptions.js";

/** What the notifier is built from. Durations in ms; every option has the default its config has. */
export interface NotifierDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly verifyKey: ApiKeyVerifier<Principal>;
  /** Hosts allowed for local delivery (plain http, loopback). Default none. */
  readonly allowHttpHosts?: readonly string[];
  /** Delays before attempts 2, 3, …. Default 5s, 5m, 30m, 2h, 5h, 10h, 10h. */
  readonly retryScheduleMs?: readonly number[];
  /** Deadline of one call. Default 10 000. */
  readonly timeoutMs?: number;
  /** Pending-delivery scan period. Default 10 000. */
  readonly scanIntervalMs?: number;
  /** `WebHook-Request-Origin` of the validation handshake. Default `retrain-notifier`. */
  readonly origin?: string;
  /** Webhook calls in flight at once. Default 32. */
  readonly maxInFlight?: number;
  /** Events handled at once. Default 4. */
  readonly concurrency?: number;
  /** Key-encryption key (`RETRAIN_KEK`): subscription secrets are sealed with it at rest. Default: stored as given. */
  readonly kek?: Buffer;
  /** Where delivery attempts are counted and timed. Default: not recorded. */
  readonly metrics?: MetricsRegistry;
  /** How long finished deliveries are kept after their last change. Default 30 days. */
  readonly retentionMs?: number;
  /** How often old deliveries are swept. Default 1 hour. */
  readonly retentionSweepMs?: number;
}

/** The notifier: webhook subscriptions, their deliveries and the run-event consumer that makes them. */
export interface Notifier {
  registerRoutes(router: Router): void;
  /** Turns one event into deliveries and starts them (what the consumer does per event). */
  notify(event: AnyEvent): Promise<number>;
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** Delays before attempts 2–8: the Standard Webhooks example schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** How long finished deliveries are kept by default: 30 days. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;

const DeliveriesQuery = z.object({
  state: DeliveryState.optional(),
  /** Newest first; at most this many. */
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Builds the notifier from its dependencies (no I/O until `start`). */
export function createNotifier(deps: NotifierDeps): Notifier {
  const policy = { allowHttpHosts: (deps.allowHttpHosts ?? []).map((h) => h.toLowerCase()) };
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const origin = deps.origin ?? "retrain-notifier";
  const secrets = new SubscriptionSecrets(deps.kek);
  const dispatcher = new Dispatcher({
    store: deps.store,
    logger: deps.logger,
    policy,
    retryScheduleMs: deps.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
    timeoutMs,
    owner: randomUUID(),
    secrets,
    scanIntervalMs: deps.scanIntervalMs ?? 10_000,
    maxInFlight: deps.maxInFlight ?? 32,
    ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {}),
  });
  const subscriptionDeps = { store: deps.store, policy, origin, handshakeTimeoutMs: timeoutMs, secrets };
  const retention = new DeliveryRetention({
    store: deps.store,
    logger: deps.logger,
    retentionMs: deps.retentionMs ?? DEFAULT_RETENTION_MS,
    sweepIntervalMs: deps.retentionSweepMs ?? 3_600_000,
  });
  let subscription: Subscription | undefined;
  const recordedRuns = new Set<string>();
  const subscriptions = subscriptionListing(deps.store);

  async function notify(event: AnyEvent): Promise<number> {
    const keys = await handleEvent(event, { store: deps.store, logger: deps.logger, recordedRuns, subscriptions });
    for (const k of keys) dispatcher.kick(k.subscriptionId, k.deliveryId);
    return keys.length;
  }

  return {
    notify,
    registerRoutes(router) {
      const auth = requireApiKey(deps.verifyKey);
      router.post("/v1/subscriptions", auth, async (req, res) => {
        if (req.body === undefined) throw new HttpError(400, "BadArgument", "Send the subscription as a JSON body (content-type: application/json).");
        const body = CreateSubscriptionBody.parse(req.body);
        res.status(201).json(await createSubscription(body, principalOf<Principal>(res), subscriptionDeps));
      });
      router.get("/v1/subscriptions", auth, async (_req, res) => {
        res.json({ value: await listSubscriptions(deps.store, principalOf<Principal>(res)) });
      });
      router.get("/v1/subscriptions/:id", auth, async (req, res) => {
        res.json(subscriptionView(await visibleSubscription(deps.store, routeParam(req, "id"), principalOf<Principal>(res))));
      });
      router.delete("/v1/subscriptions/:id", auth, async (req, res) => {
        await deleteSubscription(deps.store, routeParam(req, "id"), principalOf<Principal>(res));
        res.status(204).end();
      });
      router.get("/v1/subscriptions/:id/deliveries", auth, async (req, res) => {
        const sub = await visibleSubscription(deps.store, routeParam(req, "id"), principalOf<Principal>(res));
        const { state, limit } = DeliveriesQuery.parse(req.query);
        const all = await listDeliveries(deps.store, sub.id, state);
        res.json({ subscriptionId: sub.id, total: all.length, value: all.slice(0, limit).map((d) => deliveryView(d)) });
      });
      router.get("/v1/subscriptions/:id/deliveries/:deliveryId", auth, async (req, res) => {
        const sub = await visibleSubscription(deps.store, routeParam(req, "id"), principalOf<Principal>(res));
        res.json(deliveryView(await getDelivery(deps.store, sub.id, routeParam(req, "deliveryId")), true));
      });
      router.post("/v1/subscriptions/:id/deliveries/:deliveryId/replay", auth, async (req, res) => {
        const sub = await visibleSubscription(deps.store, routeParam(req, "id"), principalOf<Principal>(res));
        const delivery = await replayDelivery(deps.store, sub.id, routeParam(req, "deliveryId"));
        dispatcher.kick(sub.id, delivery.id);
        res.status(202).json(deliveryView(delivery));
      });
    },
    async start() {
      // The scheduler first: what a previous process left pending is resumed before new events arrive.
      await dispatcher.start();
      retention.start();
      subscription = await deps.bus.subscribe({
        group: "notifier",
        types: SUBSCRIBABLE_TYPES,
        concurrency: deps.concurrency ?? 4,
        // Deliveries are created with ifNoneMatch per (subscription, event id): the store dedupes.
        inbox: { seen: async () => false },
        handler: async (event) => {
          await notify(event as AnyEvent);
        },
      });
    },
    async stop(graceMs = 10_000) {
      await subscription?.close({ graceMs });
      await Promise.all([dispatcher.stop(graceMs), retention.stop()]);
    },
  };
}
