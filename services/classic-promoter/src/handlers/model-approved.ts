import type { HandlerContext } from "@retrain/bus";
import type { CloudEvent, ClassicEndpointTarget, EndpointTarget, EventTypes } from "@retrain/contracts";
import { promoteTarget, type PromotionStore } from "@retrain/promotion";
import { promoteClassicEndpoint, type PromoteEndpointDeps } from "./promote-endpoint.js";

/** What the ModelApproved handler needs. */
export interface ModelApprovedDeps extends PromoteEndpointDeps {
  readonly promotions: PromotionStore;
  readonly source: string;
}

function isClassic(target: EndpointTarget): target is ClassicEndpointTarget {
  return target.kind === "classic";
}

/**
 * ModelApproved → one promotion per classic target of the run's plan (new web services are the new
 * promoter's). Targets are promoted one after another; each has its own record, so a redelivery
 * after a failure redoes only the targets that are not decided yet.
 */
export async function onModelApproved(
  event: CloudEvent<typeof EventTypes.ModelApproved>,
  context: HandlerContext<typeof EventTypes.ModelApproved>,
  deps: ModelApprovedDeps,
): Promise<void> {
  const targets = event.data.plan.targets.filter(isClassic);
  if (targets.length === 0) return;
  for (const target of targets) {
    await promoteTarget(event, target, (t) => promoteClassicEndpoint(t, event.data, deps), {
      promotions: deps.promotions,
      source: deps.source,
      logger: context.logger,
    });
  }
}
