import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { pause } from "../follow.js";
import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import { parseTarget, targetKey } from "../targets.js";
import type { PromotionView } from "../wire.js";

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
    .option("--timeout <seconds>", "stop waiting after this long (default 120)", "120")
    .action(async (target: string, options: { to: string; reason?: string; wait: boolean; timeout: string }, command) => {
      const ctx = context(command);
      const key = targetKey(parseTarget(target, ctx.workspace));
      const { body: accepted } = await ctx
        .api("registry")
        .post<{ target: string; to: string; rollbackRunId: string; eventId: string }>("/v1/targets/rollback", {
          body: { target: key, to: options.to, ...(options.reason !== undefined ? { reason: options.reason } : {}) },
        });
      if (!options.wait) {
        ctx.out.result({ rollback: accepted }, `rollback of ${key} to the model of run ${options.to} accepted (rollback run ${accepted.rollbackRunId})`);
        return;
      }
      const entry = await waitForRollback(ctx, key, accepted.rollbackRunId, Number(options.timeout) * 1000);
      ctx.out.result({ rollback: accepted, entry }, `${key} serves ${entry.modelId} again (model of run ${options.to}) as revision ${entry.revision}, recorded as a rollback`);
    });
};

/** Polls the target's history until the rollback's revision is recorded. */
async function waitForRollback(ctx: CliContext, key: string, rollbackRunId: string, timeoutMs: number): Promise<PromotionView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const history = await historyOf(ctx, key);
    const entry = history.value.find((e) => e.kind === "rollback" && e.runId === rollbackRunId);
    if (entry !== undefined) return entry;
    if (Date.now() > deadline) throw new CliError(`the rollback of ${key} (run ${rollbackRunId}) is not in its history after ${timeoutMs / 1000} s; see: retrain history ${key}`, 1, "RollbackTimeout");
    await pause(500);
  }
}
