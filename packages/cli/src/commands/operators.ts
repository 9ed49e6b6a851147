import type { Command } from "commander";
import { CliError } from "../errors.js";
import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";

/** An operator key as the keyring lists it (never the key). */
interface OperatorView {
  readonly name: string;
  readonly workspace: string;
  readonly role: "admin" | "user";
  readonly createdAt: string;
  readonly createdBy: string;
}

function path(name: string): string {
  if (name === "") throw new CliError("an operator name is required (see: retrain operators list)", 2, "BadArgument");
  return `/v1/operators/${encodeURIComponent(name)}`;
}

/**
 * `retrain operators list|add|remove`: named keys, so approvals, rollbacks and the rest are recorded
 * under a person's name instead of the shared admin key's. Any service answers; the registry is asked.
 */
export const registerOperators: CommandGroup = (program, context) => {
  const operators = program.command("operators").description("named keys: a person's own admin or workspace key, recorded by name (admin key of every workspace)");
  operators
    .command("list")
    .description("list the operator keys (never the keys themselves)")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const { body } = await ctx.api("registry").get<{ value: OperatorView[] }>("/v1/operators");
      const rows = body.value.map((o) => [o.name, o.role, o.workspace, formatTime(o.createdAt), o.createdBy]);
      ctx.out.result(body, rows.length === 0 ? "no operator keys" : table(rows, ["NAME", "ROLE", "WORKSPACE", "CREATED (UTC)", "BY"]));
    });
  operators
    .command("add <name>")
    .description("create an operator key and print it once: an admin's rights, or with --for-workspace one workspace's")
    .option("--for-workspace <ws>", "only this workspace (a workspace user, not an admin)")
    .action(async (name: string, options: { forWorkspace?: string }, command: Command) => {
      // The CLI's own --workspace says which workspace to call, not whose key to make: taking it silently
      // would leave an admin key where a workspace key was meant.
      let root = command;
      while (root.parent !== null) root = root.parent;
      if (root.getOptionValueSource("workspace") === "cli") {
        throw new CliError("--workspace picks the workspace the CLI calls; give the operator's workspace with --for-workspace", 2, "BadArgument");
      }
      const ctx = context(command);
      const workspace = options.forWorkspace;
      const { body } = await ctx
        .api("registry")
        .post<OperatorView & { key: string }>("/v1/operators", { body: { name, ...(workspace !== undefined ? { workspace } : {}) } });
      ctx.out.result(body, [
        `operator ${body.name} created (${body.role === "admin" ? "admin of every workspace" : `user of workspace ${body.workspace}`})`,
        `  key  ${body.key}`,
        "  shown only now: store it where its owner keeps secrets; `retrain operators remove` ends it",
      ]);
    });
  operators
    .command("remove <name>")
    .description("delete an operator key: it stops working everywhere within the key cache time (2 s)")
    .action(async (name: string, _options: unknown, command) => {
      const ctx = context(command);
      await ctx.api("registry").delete(path(name));
      ctx.out.result({ removed: name }, `removed operator ${name}`);
    });
};
