import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import type { EvaluationView } from "../wire.js";

/** `retrain approve|reject <run> [--reason]`, `retrain approvals` (evaluator). */
export const registerApprovals: CommandGroup = (program, context) => {
  for (const [verb, description] of [
    ["approve", "approve a run waiting for a person: its model is promoted to the pipeline's targets"],
    ["reject", "reject a run waiting for a person: nothing is promoted"],
  ] as const) {
    program
      .command(`${verb} <runId>`)
      .summary(`${verb} a run waiting for a person (admin key)`)
      .description(`${description} (an admin key; the server records who, from the key)`)
      .option("--reason <text>", "why, in your words (recorded)")
      .action(async (runId: string, options: { reason?: string }, command) => {
        const ctx = context(command);
        const { body } = await ctx
          .api("evaluator")
          .post<EvaluationView>(`/v1/runs/${encodeURIComponent(runId)}/${verb}`, { body: options.reason !== undefined ? { reason: options.reason } : {} });
        const by = body.approval?.decidedBy;
        ctx.out.result(body, `run ${runId} ${verb === "approve" ? "approved" : "rejected"}${by !== undefined ? ` by ${by}` : ""}: ${body.reason}`);
      });
  }

  program
    .command("approvals")
    .description("list runs waiting for a person's approval")
    .option("--state <state>", "pending, approved or rejected", "pending")
    .action(async (options: { state: string }, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("evaluator").get<{ value: Array<EvaluationView & { runSequence: number; evaluatedAt: string }> }>("/v1/approvals", { query: { state: options.state } });
      const rows = body.value.map((e) => [e.runId, e.pipeline, e.runSequence, formatTime(e.evaluatedAt), e.approval?.decidedBy, e.reason]);
      ctx.out.result(body, rows.length === 0 ? `no ${options.state} approvals` : table(rows, ["RUN", "PIPELINE", "#", "EVALUATED (UTC)", "DECIDED BY", "REASON"]));
    });
};
