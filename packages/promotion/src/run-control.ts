import type { EventBus, Subscription } from "@retrain/bus";
import { EventTypes } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import type { PromotionStore } from "./promotion-store.js";

/**
 * A promoter's run-control consumers: RunCancelled marks the run (its approvals promote nothing after
 * it), and the reconciler's RunRedriveRequested for a run's promotion stage re-publishes what this
 * promoter decided for it. `group` is the promoter's consumer-group name (each gets its own groups).
 */
export async function subscribeRunControl(bus: EventBus, promotions: PromotionStore, group: string, logger: Logger): Promise<Subscription[]> {
  return [
    await bus.subscribe({
      group: `${group}-run-control`,
      types: [EventTypes.RunCancelled],
      // The cancel marker is written with ifNoneMatch: a duplicate changes nothing.
      inbox: { seen: async () => false },
      handler: async (event) => {
        await promotions.markCancelled(event.data.runId, event.time);
        logger.info({ run_id: event.data.runId }, "run cancelled: its approvals promote nothing");
      },
    }),
    await bus.subscribe({
      group: `${group}-redrive`,
      types: [EventTypes.RunRedriveRequested],
      handler: async (command, context) => {
        if (command.data.stage !== "promotion") return;
        const events = await promotions.republish(command.data.runId, command.id);
        if (events > 0) context.logger.info({ run_id: command.data.runId, events }, "re-published the run's promotion outcomes for the reconciler");
      },
    }),
  ];
}
