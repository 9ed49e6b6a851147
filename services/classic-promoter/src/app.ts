import { DEFAULT_READ_URL_LIFETIME_MS, type BlobStore } from "@retrain/blob";
import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import { PromotionStore, subscribeRunControl } from "@retrain/promotion";
import type { Logger } from "@retrain/telemetry";
import { onModelApproved } from "./handlers/model-approved.js";
import { ClassicScoringClient } from "./scoring-client.js";

/** What the classic promoter is built from. */
export interface ClassicPromoterDeps {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Base URL of the scoring host. */
  readonly scoringUrl: string;
  /** Admin or workspace key of the scoring host. */
  readonly scoringKey: string;
  /** Lifetime of the model read URL given to the scoring host. Default 15 min. */
  readonly modelUrlLifetimeMs?: number;
  /** How long the smoke call waits for the new model to answer. Default 10 s. */
  readonly smokeTimeoutMs?: number;
  /** Approvals handled at once. Default 4. */
  readonly concurrency?: number;
  /** Delays before redelivering an approval after a transient failure. Default the bus's. */
  readonly backoffMs?: readonly number[];
}

/** The classic promoter: ModelApproved → classic endpoints PATCHed → EndpointUpdated / PromotionFailed. */
export interface ClassicPromoter {
  readonly promotions: PromotionStore;
  /** Relays outboxes a crash left, then subscribes to ModelApproved. */
  start(): Promise<void>;
  /** Closes the subscription (in-flight promotions get `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

const SOURCE = "/retrain/classic-promoter";
const GROUP = "classic-promoter";

/** Builds the classic promoter from its dependencies (no I/O until `start`). */
export function createClassicPromoter(deps: ClassicPromoterDeps): ClassicPromoter {
  const promotions = new PromotionStore(deps.store, GROUP, deps.bus, deps.logger);
  const client = new ClassicScoringClient({ baseUrl: deps.scoringUrl, key: deps.scoringKey });
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
