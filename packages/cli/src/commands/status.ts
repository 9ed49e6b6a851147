import { CliError } from "../errors.js";
import type { ServiceName } from "../config.js";
import { table } from "../output.js";
import type { CommandGroup } from "../program.js";

/** The services the CLI's commands call: what `status` checks. */
const CHECKED: readonly ServiceName[] = ["ingestion", "registry", "evaluator", "scoring"];

/** One server's answer to GET /readyz. */
interface ServerStatus {
  readonly services: ServiceName[];
  readonly url: string;
  readonly state: "ready" | "not ready" | "unreachable";
  readonly detail: unknown;
}

/**
 * `retrain status`: is every service the CLI uses there and ready (GET /readyz of each distinct URL:
 * one in the embedded default, one per service when distributed). Exit 1 when one is not ready, 3
 * when one cannot be reached.
 */
export const registerStatus: CommandGroup = (program, context) => {
  program
    .command("status")
    .description("check that Retrain answers and is ready (each service's URL once)")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const byUrl = new Map<string, ServiceName[]>();
      for (const service of CHECKED) {
        const url = ctx.api(service).baseUrl;
        byUrl.set(url, [...(byUrl.get(url) ?? []), service]);
      }
      const servers = await Promise.all(
        [...byUrl].map(async ([url, services]): Promise<ServerStatus> => {
          try {
            const answer = await ctx.api(services[0] as ServiceName).get<unknown>("/readyz", { accept: [503], timeoutMs: 10_000 });
            return { services, url, state: answer.status === 200 ? "ready" : "not ready", detail: answer.body };
          } catch (error) {
            if (error instanceof CliError && error.exitCode === 3) return { services, url, state: "unreachable", detail: error.message };
            throw error;
          }
        }),
      );
      const ready = servers.every((s) => s.state === "ready");
      ctx.out.result(
        { ready, servers },
        servers.length === 1 ? `${servers[0]?.url}: ${servers[0]?.state}` : table(servers.map((s) => [s.services.join(", "), s.url, s.state]), ["SERVICE", "URL", "STATE"]),
      );
      const unreachable = servers.filter((s) => s.state === "unreachable");
      if (unreachable.length > 0) throw new CliError(`cannot reach ${unreachable.map((s) => `the ${s.services.join(", ")} at ${s.url}`).join("; ")}`, 3, "Unreachable");
      const notReady = servers.filter((s) => s.state === "not ready");
      if (notReady.length > 0) throw new CliError(`not ready: ${notReady.map((s) => `${s.services.join(", ")} at ${s.url} (${JSON.stringify(s.detail)})`).join("; ")}`, 1, "NotReady");
    });
};
