import { CliError } from "../errors.js";
import type { CommandGroup } from "../program.js";

/** `retrain status`: is Retrain there and ready (GET /readyz of the base URL). */
export const registerStatus: CommandGroup = (program, context) => {
  program
    .command("status")
    .description("check that Retrain answers and is ready")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const api = ctx.api("registry");
      const answer = await api.get<Record<string, unknown>>("/readyz", { accept: [503] });
      const ready = answer.status === 200;
      if (!ready) throw new CliError(`${api.baseUrl} is not ready: ${JSON.stringify(answer.body)}`, 1, "NotReady");
      ctx.out.result({ url: api.baseUrl, ready, detail: answer.body }, `${api.baseUrl}: ready`);
    });
};
