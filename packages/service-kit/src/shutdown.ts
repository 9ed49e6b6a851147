import { constants } from "node:os";
import type { Logger } from "@retrain/telemetry";

/** When a shutdown step runs: "drain" steps stop taking work (servers, subscriptions), then "close" steps release connections. */
export type ShutdownPhase = "drain" | "close";

/** A shutdown step; `signal` aborts when the step's grace period is over and it is being abandoned. */
export type ShutdownStep = (signal: AbortSignal) => Promise<void> | void;

/** Options for {@link createShutdown}. */
export interface CreateShutdownOptions {
  logger: Logger;
  /** Time each step (and so each phase) gets before it is abandoned. Default 10 000 ms. */
  graceMs?: number;
  /** Ends the process after a signal-triggered shutdown. Default `process.exit`; tests pass a spy. */
  exit?: (code: number) => void;
}

/** The process's shutdown sequence. */
export interface Shutdown {
  /** Aborts when shutdown begins: pass it to loops and long-running work. */
  readonly signal: AbortSignal;
  /** Whether shutdown has begun. */
  readonly started: boolean;
  /** Registers a step for `phase`. Steps of one phase run concurrently. */
  onShutdown(step: ShutdownStep, phase: ShutdownPhase): void;
  /**
   * Begins shutdown (idempotent: later calls return the same promise): aborts {@link Shutdown.signal},
   * runs the drain steps, then the close steps, each bounded by the grace period. Never rejects;
   * failures and overruns are logged.
   */
  run(reason: string): Promise<void>;
  /**
   * Makes SIGTERM and SIGINT run the shutdown and then exit (code 0, or 1 if a step failed); a
   * signal arriving while shutdown is under way exits at once (128 + signal number). Returns a
   * function that removes the handlers.
   */
  installSignalHandlers(): () => void;
}

/** Creates the two-phase shutdown sequence of a service (see {@link Shutdown}). */
export function createShutdown(options: CreateShutdownOptions): Shutdown {
  const { logger } = options;
  const graceMs = options.graceMs ?? 10_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  const steps: Record<ShutdownPhase, ShutdownStep[]> = { drain: [], close: [] };
  let running: Promise<void> | undefined;
  let failed = false;

  async function runStep(step: ShutdownStep, phase: ShutdownPhase): Promise<void> {
    const name = step.name || "anonymous";
    const abandon = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<"overrun">((resolve) => {
      timer = setTimeout(() => resolve("overrun"), graceMs);
    });
    // Settles either way, so a step failing after it was abandoned is no unhandled rejection.
    const work = Promise.resolve()
      .then(() => step(abandon.signal))
      .then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    const outcome = await Promise.race([work, overrun]);
    clearTimeout(timer);
    if (outcome === "overrun") {
      failed = true;
      abandon.abort(new Error(`shutdown step did not finish within ${graceMs} ms`));
      logger.warn({ phase, step: name, grace_ms: graceMs }, "shutdown step overran its grace period; abandoned");
    } else if (!outcome.ok) {
      failed = true;
      logger.error({ err: outcome.error, phase, step: name }, "shutdown step failed");
    }
  }

  async function runPhase(phase: ShutdownPhase): Promise<void> {
    await Promise.all(steps[phase].map((step) => runStep(step, phase)));
  }

  const shutdown: Shutdown = {
    signal: controller.signal,
    get started() {
      return running !== undefined;
    },
    onShutdown(step, phase) {
      steps[phase].push(step);
    },
    run(reason) {
      running ??= (async () => {
        const started = Date.now();
        logger.info({ reason }, "shutting down");
        controller.abort(new Error(`shutting down: ${reason}`));
        await runPhase("drain");
        await runPhase("close");
        logger.info({ reason, duration_ms: Date.now() - started, clean: !failed }, "shutdown complete");
      })();
      return running;
    },
    installSignalHandlers() {
      const onSignal = (signal: NodeJS.Signals): void => {
        if (shutdown.started) {
          logger.warn({ signal }, "signal received during shutdown; exiting now");
          exit(128 + (constants.signals[signal] ?? 0));
          return;
        }
        void shutdown.run(signal).then(() => exit(failed ? 1 : 0));
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      return () => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      };
    },
  };
  return shutdown;
}
