/**
 * A definitive answer that a target cannot take the model (the scoring host said no, the target is
 * refused, verification failed): it ends the promotion with PromotionFailed instead of a retry.
 * Any other error is treated as transient and the approval is redelivered.
 */
export class PromotionRefusedError extends Error {
  override readonly name = "PromotionRefusedError";
  constructor(
    /** Becomes `PromotionFailed.code` (`Superseded`, `DefaultEndpointRefused`, `ModelUnreadable`, …). */
    readonly code: string,
    message: string,
    readonly context: { readonly target?: string; readonly status?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A scoring host answer this promoter cannot use (5xx, unexpected shape): transient, retried. */
export class ScoringHostError extends Error {
  override readonly name = "ScoringHostError";
  constructor(
    message: string,
    readonly context: { readonly method: string; readonly url: string; readonly status?: number; readonly code?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
