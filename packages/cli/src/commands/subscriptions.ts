import { CliError } from "../errors.js";
import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import { parseTarget, targetKey } from "../targets.js";

/** A webhook subscription as the notifier shows it. */
interface SubscriptionView {
  readonly id: string;
  readonly workspace: string;
  readonly url: string;
  readonly types: readonly string[];
  readonly shortTypes: readonly string[];
  readonly filter: { readonly pipeline?: string; readonly target?: string };
  readonly createdAt: string;
  /** Only in the answer to the creation. */
  readonly secret?: string;
}

/** One delivery attempt. */
interface AttemptView {
  readonly n: number;
  readonly round: number;
  readonly startedAt: string;
  readonly outcome: string;
  readonly statusCode?: number;
  readonly latencyMs?: number;
  readonly error?: string;
}

/** One event for one subscription, with every attempt. */
interface DeliveryView {
  readonly id: string;
  readonly eventId: string;
  readonly shortType: string;
  readonly runId: string | null;
  readonly state: string;
  readonly attempts: readonly AttemptView[];
  readonly nextAttemptAt: string | null;
  readonly createdAt: string;
}

function filterText(filter: SubscriptionView["filter"]): string {
  const parts = [filter.pipeline !== undefined ? `pipeline=${filter.pipeline}` : "", filter.target !== undefined ? `target=${filter.target}` : ""].filter((p) => p !== "");
  return parts.length === 0 ? "-" : parts.join(" ");
}

function lastAttempt(d: DeliveryView): string {
  const last = d.attempts[d.attempts.length - 1];
  if (last === undefined) return "-";
  const answer = last.statusCode !== undefined ? String(last.statusCode) : (last.error?.split(":")[0] ?? last.outcome);
  return `${answer}${last.latencyMs !== undefined ? ` in ${last.latencyMs} ms` : ""}`;
}

function attemptLines(d: DeliveryView): string[] {
  return d.attempts.map((a) => {
    const answer = a.statusCode !== undefined ? `HTTP ${a.statusCode}` : a.outcome;
    const error = a.error !== undefined && a.outcome !== "delivered" ? ` — ${a.error}` : "";
    return `    #${a.n}${a.round > 1 ? ` (replay ${a.round - 1})` : ""} ${formatTime(a.startedAt)}  ${answer}${a.latencyMs !== undefined ? `  ${a.latencyMs} ms` : ""}${error}`;
  });
}

/**
 * `retrain subscribe <url>`, `retrain subscriptions`, `retrain unsubscribe <id>`,
 * `retrain deliveries <subscription> [--dead]`, `retrain redeliver <subscription> <delivery>` (notifier).
 */
export const registerSubscriptions: CommandGroup = (program, context) => {
  program
    .command("subscribe <url>")
    .summary("send run events to a webhook (signed CloudEvents)")
    .description(
      "send run events to a webhook URL as signed CloudEvents (Standard Webhooks). The URL must be https and must answer the " +
        "CloudEvents validation handshake (OPTIONS with WebHook-Request-Origin → WebHook-Allowed-Origin). The secret is printed once.",
    )
    .requiredOption("--types <names>", "comma-separated event types, e.g. EndpointUpdated,ModelRejected,PromotionFailed")
    .option("--pipeline <name>", "only events of this pipeline")
    .option("--target <target>", "only events about this target: <webservice>/<endpoint> (in --workspace), classic:<ws>/<ws>/<endpoint> or new:<sub>/<rg>/<webservice>")
    .option("--secret <whsec>", "signing secret (whsec_<base64 of 24–64 bytes>); default: generated and printed once")
    .action(async (url: string, options: { types: string; pipeline?: string; target?: string; secret?: string }, command) => {
      const ctx = context(command);
      const types = options.types.split(",").map((t) => t.trim()).filter((t) => t !== "");
      if (types.length === 0) throw new CliError("--types names no event type (e.g. --types EndpointUpdated)", 2, "BadArgument");
      const filter = {
        ...(options.pipeline !== undefined ? { pipeline: options.pipeline } : {}),
        ...(options.target !== undefined ? { target: targetKey(parseTarget(options.target, ctx.workspace)) } : {}),
      };
      const { body } = await ctx.api("notifier").post<SubscriptionView>("/v1/subscriptions", {
        body: { url, types, filter, ...(options.secret !== undefined ? { secret: options.secret } : {}) },
      });
      const lines = [`subscription ${body.id}: ${body.shortTypes.join(", ")} → ${body.url} (${filterText(body.filter)})`];
      if (options.secret === undefined && body.secret !== undefined) {
        lines.push(`secret (shown once; verify webhook-signature with it): ${body.secret}`);
      }
      ctx.out.result(body, lines);
    });

  program
    .command("subscriptions")
    .description("list webhook subscriptions")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("notifier").get<{ value: SubscriptionView[] }>("/v1/subscriptions");
      const rows = body.value.map((s) => [s.id, s.shortTypes.join(","), filterText(s.filter), s.url, formatTime(s.createdAt)]);
      ctx.out.result(body, body.value.length === 0 ? "no subscriptions" : table(rows, ["ID", "TYPES", "FILTER", "URL", "CREATED (UTC)"]));
    });

  program
    .command("unsubscribe <id>")
    .description("delete a webhook subscription and its delivery log")
    .action(async (id: string, _options: unknown, command) => {
      const ctx = context(command);
      await ctx.api("notifier").delete(`/v1/subscriptions/${encodeURIComponent(id)}`);
      ctx.out.result({ id, deleted: true }, `subscription ${id} deleted`);
    });

  program
    .command("deliveries <subscription>")
    .description("a subscription's delivery log: every event, its state and every attempt (status, latency, error)")
    .option("--dead", "only the dead-letter list (deliveries whose last attempt failed)")
    .option("--limit <n>", "show at most this many, newest first (default 100)")
    .action(async (subscription: string, options: { dead?: boolean; limit?: string }, command) => {
      const ctx = context(command);
      const { body } = await ctx
        .api("notifier")
        .get<{ subscriptionId: string; total?: number; value: DeliveryView[] }>(`/v1/subscriptions/${encodeURIComponent(subscription)}/deliveries`, {
          query: { state: options.dead === true ? "dead" : undefined, limit: options.limit },
        });
      if (body.value.length === 0) {
        ctx.out.result(body, options.dead === true ? `no dead deliveries for ${subscription}` : `no deliveries for ${subscription} yet`);
        return;
      }
      const rows = body.value.map((d) => [d.id, d.shortType, d.runId, d.state, d.attempts.length, lastAttempt(d), formatTime(d.nextAttemptAt)]);
      const lines = [table(rows, ["DELIVERY", "TYPE", "RUN", "STATE", "ATTEMPTS", "LAST", "NEXT (UTC)"])];
      for (const d of body.value) lines.push("", `${d.id} (${d.state}):`, ...attemptLines(d));
      if (body.total !== undefined && body.total > body.value.length) lines.push("", `showing the newest ${body.value.length} of ${body.total} (--limit)`);
      ctx.out.result(body, lines);
    });

  program
    .command("redeliver <subscription> <delivery>")
    .description("replay a dead delivery: a new round of attempts with the same webhook-id")
    .action(async (subscription: string, delivery: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx
        .api("notifier")
        .post<DeliveryView>(`/v1/subscriptions/${encodeURIComponent(subscription)}/deliveries/${encodeURIComponent(delivery)}/replay`);
      ctx.out.result(body, `delivery ${body.id} (${body.shortType}) queued again: state ${body.state}; follow it with: retrain deliveries ${subscription}`);
    });
};
