import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { failOnRunFailure, followRun, pause } from "../follow.js";
import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import { parseTarget, targetKey } from "../targets.js";
import type { PromotionView, TargetView } from "../wire.js";
import { timeoutMsOf } from "./upload.js";

const TARGET_HELP = "<webservice>/<endpoint> in --workspace, classic:<ws>/<webservice>/<endpoint> or new:<subscription>/<resourceGroup>/<webservice>";

async function historyOf(ctx: CliContext, key: string): Promise<{ target: string; value: PromotionView[] }> {
  return (await ctx.api("registry").get<{ target: string; value: PromotionView[] }>("/v1/targets/history", { query: { target: key } })).body;
}

/** The history as a table, the entry serving now marked. */
function historyTable(value: readonly PromotionView[]): string {
  const current = Math.max(...value.map((e) => e.revision));
  const rows = value.map((e) => [e.revision === current ? `${e.revision} *` : String(e.revision), e.modelId, e.runId, e.runSequence, e.kind, formatTime(e.at)]);
  return table(rows, ["REVISION", "MODEL", "RUN", "#", "KIND", "AT (UTC)"]);
}

/**
 * The history entry of a rollback run. The registry writes a run's timeline and the target's history
 * from the same event one after the other, so the entry may trail the run's end by a moment.
 */
async function rollbackEntry(ctx: CliContext, key: string, rollbackRunId: string): Promise<PromotionView | undefined> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entry = (await historyOf(ctx, key)).value.find((e) => e.runId === rollbackRunId);
    if (entry !== undefined || Date.now() > deadline) return entry;
    await pause(200);
  }
}

/** `retrain history <target>`, `retrain rollback <target> --to <run>` (registry). */
export const registerHistory: CommandGroup = (program, context) => {
  program
    .command("history <target>")
    .summary("which model served a target when (promotions and rollbacks)")
    .description(`which model served a target when: every promotion and rollback, newest revision marked * (target: ${TARGET_HELP})`)
    .action(async (target: string, _options: unknown, command) => {
      const ctx = context(command);
      const key = targetKey(parseTarget(target, ctx.workspace));
      const history = await historyOf(ctx, key);
      ctx.out.result(history, history.value.length === 0 ? `${key}: no promotions yet` : [`${history.target}:`, historyTable(history.value)]);
    });

  program
    .command("rollback <target>")
    .summary("serve the model of an earlier run again (admin key)")
    .description(`serve the model of an earlier run again, as a new revision recorded as a rollback (admin key; target: ${TARGET_HELP})`)
    .requiredOption("--to <runId>", "the run whose model the target served before and should serve again")
    .option("--reason <text>", "why (recorded)")
    .option("--no-wait", "return once the rollback is accepted, before the target serves the model")
    .option("--timeout <seconds>", "stop waiting after this long (default 120)")
    .action(async (target: string, options: { to: string; reason?: string; wait: boolean; timeout?: string }, command) => {
      const ctx = context(command);
      const key = targetKey(parseTarget(target, ctx.workspace));
      const { body: accepted } = await ctx
        .api("registry")
        .post<{ target: string; to: string; rollbackRunId: string; eventId: string }>("/v1/targets/rollback", {
          body: { target: key, to: options.to, ...(options.reason !== undefined ? { reason: options.reason } : {}) },
        });
      if (!options.wait) {
        ctx.out.result({ rollback: accepted }, `rollback of ${key} to the model of run ${options.to} accepted: rollback run ${accepted.rollbackRunId}`);
        return;
      }
      // A rollback is a run of its own (approved → updated): follow it like any run, then name the revision.
      ctx.out.line(`rollback of ${key} to the model of run ${options.to}: rollback run ${accepted.rollbackRunId}`);
      const run = await followRun(ctx, accepted.rollbackRunId, { timeoutMs: timeoutMsOf(options.timeout) ?? 120_000 });
      failOnRunFailure(run);
      const entry = await rollbackEntry(ctx, key, accepted.rollbackRunId);
      if (entry === undefined) throw new CliError(`rollback run ${accepted.rollbackRunId} ended ${run.outcome} but ${key}'s history does not show it; see: retrain history ${target}`, 1, "RollbackNotRecorded");
      ctx.out.result({ rollback: accepted, run, entry }, `${key} serves ${entry.modelId} again (the model of run ${options.to}) as revision ${entry.revision}, recorded as a ${entry.kind}`);
    });

  program
    .command("targets")
    .summary("every promoted target and the model it serves now")
    .description("every target the registry has seen promoted, with the model and revision it serves now")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("registry").get<{ value: TargetView[] }>("/v1/targets");
      const rows = body.value.map((t) => [t.target, t.current?.modelId, t.current?.revision, t.current?.kind, t.current?.runId, formatTime(t.current?.at), t.changes]);
      ctx.out.result(body, rows.length === 0 ? "no target has been promoted yet" : table(rows, ["TARGET", "MODEL", "REVISION", "KIND", "RUN", "SINCE (UTC)", "CHANGES"]));
    });
};
