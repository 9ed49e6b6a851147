/**
 * The training worker failed as a process, not as a learner: it could not start, crashed, exited early
 * or sent something unreadable. `cause` carries the underlying error (or exit code) when there is one.
 */
export class TrainingWorkerError extends Error {
  override readonly name = "TrainingWorkerError";

  constructor(
    message: string,
    /** The worker's exit code when it exited, else undefined. */
    readonly exitCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The worker's entry script (built JavaScript) is not where it was looked for; `pnpm build` creates it. */
export class WorkerEntryNotFoundError extends Error {
  override readonly name = "WorkerEntryNotFoundError";

  constructor(
    /** Every path that was tried, in order. */
    readonly tried: readonly string[],
  ) {
    super(`training worker entry not found (tried ${tried.join(", ") || "nothing"}); run "pnpm build" or pass workerPath`);
  }
}
