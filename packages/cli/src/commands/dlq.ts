import { CliError } from "../errors.js";
import type { CommandGroup } from "../program.js";
import { formatTime, table } from "../output.js";

/** A dead letter as the registry lists it. */
interface DeadLetterSummary {
  readonly id: string;
  readonly group: string;
  readonly reason: string;
  readonly description: string;
  readonly attempts: number;
  readonly eventId: string | null;
  readonly eventType: string | null;
  readonly deadLetteredAt: string;
}

/** A dead letter as the registry shows it: with the original payload and the event when it parses. */
interface DeadLetterDetail extends DeadLetterSummary {
  readonly payload: string;
  readonly payloadEncoding: "utf8" | "base64";
  readonly event: unknown;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function path(id: string): string {
  if (id === "") throw new CliError("a dead letter id is required (see: retrain dlq list)", 2, "BadArgument");
  return `/v1/deadletters/${encodeURIComponent(id)}`;
}

/** `retrain dlq list|show|replay|drop` (registry): events the bus gave up on, why, and what to do with them. */
export const registerDlq: CommandGroup = (program, context) => {
  const dlq = program.command("dlq").description("dead letters: events a consumer group gave up on (what failed, why, after how many attempts)");
  dlq
    .command("list")
    .description("list dead letters, oldest first")
    .option("--group <group>", "only this consumer group's")
    .option("--limit <n>", "at most this many", "1000")
    .action(async (options: { group?: string; limit: string }, command) => {
      const ctx = context(command);
      if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1) throw new CliError(`--limit must be a whole number ≥ 1 (got ${options.limit})`, 2, "BadArgument");
      const { body } = await ctx.api("registry").get<{ value: DeadLetterSummary[] }>("/v1/deadletters", { query: { group: options.group, limit: options.limit } });
      const rows = body.value.map((d) => [d.id, d.group, d.reason, d.attempts, d.eventType, formatTime(d.deadLetteredAt), oneLine(d.description, 80)]);
      ctx.out.result(body, rows.length === 0 ? "no dead letters" : table(rows, ["ID", "GROUP", "REASON", "ATTEMPTS", "EVENT TYPE", "AT (UTC)", "WHY"]));
    });
  dlq
    .command("show <id>")
    .description("show one dead letter: why, how many attempts, and the original event")
    .action(async (id: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("registry").get<DeadLetterDetail>(path(id));
      const original = body.event !== null ? JSON.stringify(body.event, null, 2) : body.payloadEncoding === "utf8" ? body.payload : `(${body.payload.length} base64 characters)`;
      ctx.out.result(body, [
        `dead letter ${body.id}`,
        `  group       ${body.group}`,
        `  reason      ${body.reason}`,
        `  why         ${body.description}`,
        `  attempts    ${body.attempts}`,
        `  event       ${body.eventType ?? "-"} ${body.eventId ?? ""}`.trimEnd(),
        `  at          ${formatTime(body.deadLetteredAt)} UTC`,
        "original event:",
        original,
      ]);
    });
  dlq
    .command("replay <id>")
    .description("deliver a dead letter again to its group only (same event id, fresh transport id); admin key")
    .action(async (id: string, _options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("registry").post<{ replayed: string; group: string; eventId: string | null; eventType: string | null }>(`${path(id)}/replay`);
      ctx.out.result(body, `replayed dead letter ${body.replayed} to group ${body.group}${body.eventId !== null ? ` (event ${body.eventId})` : ""}`);
    });
  dlq
    .command("drop <id>")
    .description("remove a dead letter without delivering it; admin key")
    .action(async (id: string, _options: unknown, command) => {
      const ctx = context(command);
      await ctx.api("registry").delete(path(id));
      ctx.out.result({ dropped: id }, `dropped dead letter ${id}`);
    });
};
