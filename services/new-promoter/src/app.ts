import { DEFAULT_READ_URL_LIFETIME_MS, type BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { PromotionStore, subscribeRunControl } from "@retrain/promotion";
import type { Logger } from "@retrain/telemetry";
import { ArmClient } from "./arm-client.js";
import { onModelApproved } from "./handlers/model-approved.js";

/** What the new promoter is built from. */
export interface NewPromoterDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Base URL of the scoring host. */
  readonly scoringUrl: string;
  /** Admin or workspace key of the scoring host (the ARM bearer token). */
  readonly scoringKey: string;
  /** Lifetime of the model read URL put into the asset. Default 15 min. */
  readonly modelUrlLifetimeMs?: number;
  /** How long the smoke call waits for the new model to answer. Default 10 s. */
  readonly smokeTimeoutMs?: number;
  /** Pause between polls of an ARM async operation. Default 1 s. */
  readonly pollIntervalMs?: number;
  /** Longest wait for an ARM async operation. Default 10 min. */
  readonly operationTimeoutMs?: number;
  /** Approvals handled at once. Default 4. */
  readonly concurrency?: number;
  /** Delays before redelivering an approval after a transient failure. Default the bus's. */
  readonly backoffMs?: readonly number[];
}

/** The new promoter: ModelApproved → ARM web services updated → EndpointUpdated / PromotionFailed. */
export interface NewPromoter {
  readonly promotions: PromotionStore;
  /** Relays outboxes a crash left, then subscribes to ModelApproved. */
  start(): Promise<void>;
  /** Closes the subscription (in-flight promotions get `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

const SOURCE = "/retrain/new-promoter";
const GROUP = "new-promoter";

/** Builds the new promoter from its dependencies (no I/O until `start`). */
export function createNewPromoter(deps: NewPromoterDeps): NewPromoter {
  const promotions = new PromotionStore(deps.store, GROUP, deps.bus, deps.logger);
  const client = new ArmClient({
    baseUrl: deps.scoringUrl,
    key: deps.scoringKey,
    ...(deps.pollIntervalMs !== undefined ? { pollIntervalMs: deps.pollIntervalMs } : {}),
    ...(deps.operationTimeoutMs !== undefined ? { operationTimeoutMs: deps.operationTimeoutMs } : {}),
  });
  const subscriptions: Subscription[] = [];
  return {
    promotions,
    async start() {
      await promotions.relayPending();
      subscriptions.push(
        await deps.bus.subscribe({
          group: GROUP,
          types: [EventTypes.ModelApproved],
          concurrency: deps.concurrency ?? 4,
          ...(deps.backoffMs !== undefined ? { backoffMs: deps.backoffMs } : {}),
          // The promotion records are the inbox: a redelivered approval finds them decided.
          inbox: { seen: async () => false },
          handler: (event, context) =>
            onModelApproved(event, context, {
              promotions,
              source: SOURCE,
              client,
              store: deps.store,
              modelUrlLifetimeMs: deps.modelUrlLifetimeMs ?? DEFAULT_READ_URL_LIFETIME_MS,
              smokeTimeoutMs: deps.smokeTimeoutMs ?? 10_000,
            }),
        }),
        ...(await subscribeRunControl(deps.bus, promotions, GROUP, deps.logger)),
      );
    },
    async stop(graceMs = 10_000) {
      await Promise.all(subscriptions.splice(0).map((s) => s.close({ graceMs })));
    },
  };
}
