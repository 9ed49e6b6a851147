import type { HandlerContext } from "@retrain/bus";
import type { CloudEvent, EndpointTarget, EventTypes, NewWebServiceTarget } from "@retrain/contracts";
import { promoteTarget } from "@retrain/promotion";
import { promoteNewWebService, type PromoteWebServiceDeps } from "./promote-web-service.js";

/** What the ModelApproved handler needs. */
export interface ModelApprovedDeps extends PromoteWebServiceDeps {
  readonly source: string;
}

function isNew(target: EndpointTarget): target is NewWebServiceTarget {
  return target.kind === "new";
}

/**
 * ModelApproved → one promotion per new (ARM) web service of the run's plan (classic endpoints are
 * the classic promoter's). Each target has its own record, so a redelivery redoes only the
 * targets that are not decided yet.
 */
export async function onModelApproved(
  event: CloudEvent<typeof EventTypes.ModelApproved>,
  context: HandlerContext<typeof EventTypes.ModelApproved>,
  deps: ModelApprovedDeps,
): Promise<void> {
  for (const target of event.data.plan.targets.filter(isNew)) {
    await promoteTarget(event, target, (t) => promoteNewWebService(t, event.data, deps), {
      promotions: deps.promotions,
      source: deps.source,
      logger: context.logger,
    });
  }
}
