import { Command, CommanderError } from "commander";
import { CliContext, type GlobalOptions } from "./context.js";
import type { CliEnvironment } from "./config.js";
import { CliError } from "./errors.js";
import type { CliIo } from "./output.js";
import { commandGroups } from "./commands/index.js";

/** A command group registers its commands; each action receives the context built from the global options. */
export type CommandGroup = (program: Command, context: (command: Command) => CliContext) => void;

/**
 * Runs the CLI on `argv` (without node and the script) and returns the exit code. In-process so tests call it
 * directly; `main.ts` only passes process.argv and exits with the code.
 */
export async function runCli(argv: readonly string[], env: CliEnvironment, io: CliIo): Promise<number> {
  const program = new Command("retrain")
    .description("Retrain: retrain models when data arrives, evaluate them, promote the winner")
    .option("--url <url>", "base URL of Retrain (default RETRAIN_URL or http://127.0.0.1:8080)")
    .option("--key <key>", "API key (default RETRAIN_KEY)")
    .option("--workspace <id>", "workspace (default RETRAIN_WORKSPACE or 'default')")
    .option("--json", "print one JSON document instead of human output")
    .addHelpText(
      "after",
      `
Environment: RETRAIN_URL, RETRAIN_KEY, RETRAIN_WORKSPACE; distributed, one URL per service:
  RETRAIN_<SERVICE>_URL (e.g. RETRAIN_REGISTRY_URL, RETRAIN_INGESTION_URL, RETRAIN_SCORING_URL).
Exit codes: 0 done; 1 failed (the reason in one line on stderr); 2 usage; 3 a server could not be reached.`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError(false);
  const context = (command: Command): CliContext => new CliContext(env, command.optsWithGlobals<GlobalOptions>(), io);
  for (const group of commandGroups) group(program, context);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const json = argv.includes("--json");
    if (error instanceof CliError) {
      io.stderr(json ? `${JSON.stringify({ error: { code: error.code ?? "Failed", message: error.message } })}\n` : `retrain: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`retrain: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
