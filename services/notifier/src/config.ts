import { PlatformEnv } from "@retrain/runtime";
import { envDurationMs, envInt, loadConfig, parseDurationMs } from "@retrain/service-kit";
import { z } from "zod";

/** A comma-separated list of durations ("5s,5m,30m"), as milliseconds. */
function durationList(): z.ZodType<number[], string> {
  return z.string().transform((raw, ctx) => {
    const parts = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
    const values = parts.map(parseDurationMs);
    if (values.some((v) => v === undefined)) {
      ctx.issues.push({ code: "custom", input: raw, message: 'must be comma-separated durations such as "5s,5m,30m"' });
      return z.NEVER;
    }
    return values as number[];
  });
}

/** The notifier's configuration: the platform's variables plus its own. */
export const NotifierEnv = PlatformEnv.extend({
  NOTIFIER_PORT: envInt({ min: 0, max: 65535 }).default(8087),
  NOTIFIER_HOST: z.string().default("127.0.0.1"),
  /**
   * Hosts allowed for local delivery (plain http, loopback addresses), comma-separated, e.g.
   * `127.0.0.1,localhost`. Default none: every webhook URL must be https to a non-loopback address.
   */
  NOTIFIER_ALLOW_HTTP_HOSTS: z
    .string()
    .default("")
    .transform((raw) => raw.split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "")),
  /**
   * Delays before the 2nd, 3rd, … attempt; attempts = 1 + their number, then the delivery is dead.
   * Default the Standard Webhooks example schedule: 5s, 5m, 30m, 2h, 5h, 10h, 10h.
   */
  NOTIFIER_RETRY_SCHEDULE: durationList().default(["5s", "5m", "30m", "2h", "5h", "10h", "10h"].map((d) => parseDurationMs(d) ?? 0)),
  /** Deadline of one webhook call (connect to last byte of the answer). */
  NOTIFIER_TIMEOUT: envDurationMs({ min: 100 }).default(10_000),
  /** How often pending deliveries are scanned (restart recovery, other replicas' expired claims). */
  NOTIFIER_SCAN_INTERVAL: envDurationMs({ min: 50 }).default(10_000),
  /** `WebHook-Request-Origin` sent in the validation handshake: names this deployment to receivers. */
  NOTIFIER_ORIGIN: z.string().min(1).default("retrain-notifier"),
  /** Webhook calls in flight at once in one replica. */
  NOTIFIER_MAX_IN_FLIGHT: envInt({ min: 1, max: 1024 }).default(32),
  /** Events handled at once by one replica (turning events into deliveries). */
  NOTIFIER_CONCURRENCY: envInt({ min: 1, max: 64 }).default(4),
  /** How long finished deliveries (delivered, dead, cancelled) stay readable after their last change. */
  NOTIFIER_DELIVERY_RETENTION: envDurationMs({ min: 60_000 }).default(30 * 86_400_000),
  /** How often deliveries past their retention are removed. */
  NOTIFIER_RETENTION_SWEEP_INTERVAL: envDurationMs({ min: 1000 }).default(3_600_000),
});
export type NotifierEnv = z.output<typeof NotifierEnv>;

/** Reads the notifier's configuration from the environment (only when called). */
export function loadNotifierConfig(env: Record<string, string | undefined> = process.env): NotifierEnv {
  return loadConfig(NotifierEnv, env);
}
