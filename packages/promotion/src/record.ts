import { EndpointTarget, ServedModel } from "@retrain/contracts";
import { z } from "zod";

/** Where a promotion stands: started (the effect may or may not have happened), or decided. */
export const PromotionState = z.enum(["pending", "done", "failed"]);
export type PromotionState = z.infer<typeof PromotionState>;

/**
 * One promotion of one run's model to one target: its state, what the scoring host answered, the
 * ids of the approvals it has handled (inbox) and the events it still has to publish (outbox).
 */
export const PromotionRecord = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  pipeline: z.string().min(1),
  runSequence: z.number().int().nonnegative(),
  target: EndpointTarget,
  targetKey: z.string().min(1),
  modelId: z.string().min(1),
  kind: z.enum(["promotion", "rollback"]),
  state: PromotionState,
  /** Times the promotion step was started (a retry after a crash or a transient error adds one). */
  attempts: z.number().int().nonnegative(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The scoring host's answer, once done. */
  result: z.object({ revision: z.number().int().positive(), previousModel: ServedModel.optional(), updatedAt: z.string() }).optional(),
  /** Why it failed, once failed. */
  failure: z.object({ code: z.string().min(1), reason: z.string() }).optional(),
  /** Audit artifacts the promoter kept (e.g. the ARM definition before and after), by name → blob. */
  artifacts: z.record(z.string(), z.string()).default({}),
  inbox: z.array(z.string()),
  /** CloudEvents written with the decision, published after (see {@link PromotionStore.relay}). */
  outbox: z.array(z.unknown()),
  /** The events published, as published: a re-drive re-publishes them unchanged. */
  sent: z.array(z.unknown()).optional(),
});
export type PromotionRecord = z.infer<typeof PromotionRecord>;

/** What a promoter's effect decided for one target. */
export type PromotionOutcome =
  | { readonly kind: "updated"; readonly revision: number; readonly previousModel?: ServedModel | undefined; readonly updatedAt?: Date }
  | { readonly kind: "failed"; readonly code: string; readonly reason: string };
