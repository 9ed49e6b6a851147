import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { formatTime, table } from "../output.js";
import type { CommandGroup } from "../program.js";
import type { CurrentModelView, EndpointView, WebServiceView } from "../wire.js";

/** `--model`: a URL (a SAS read URL, an ARM asset URI) or `store:<blob>` of Retrain's own store (admin key). */
export function modelSourceOf(location: string): { uri: string } | { blob: string } {
  if (/^https?:\/\//i.test(location)) return { uri: location };
  if (location.startsWith("store:") && location.length > "store:".length) return { blob: location.slice("store:".length) };
  throw new CliError(`--model must be an http(s) URL of a .ilearner or store:<blob name> (got '${location}')`, 2, "BadArgument");
}

async function webServices(ctx: CliContext): Promise<WebServiceView[]> {
  // 204 (no body) when the workspace has none, as the classic management API answered.
  const { body } = await ctx.api("scoring").get<WebServiceView[] | undefined>(`/workspaces/${encodeURIComponent(ctx.workspace)}/webservices`);
  return body ?? [];
}

/** An endpoint with the model it serves now (null for training web services). */
export interface EndpointWithModel extends EndpointView {
  readonly model: CurrentModelView | null;
}

async function endpointsOf(ctx: CliContext, webService: string): Promise<EndpointWithModel[]> {
  const scoring = ctx.api("scoring");
  const ws = encodeURIComponent(ctx.workspace);
  const { body } = await scoring.get<EndpointView[] | undefined>(`/workspaces/${ws}/webservices/${encodeURIComponent(webService)}/endpoints`);
  return mapLimited(body ?? [], 8, async (endpoint) => {
    const answer = await scoring.get<CurrentModelView>(
      `/v1/workspaces/${ws}/webservices/${encodeURIComponent(endpoint.WebServiceId)}/endpoints/${encodeURIComponent(endpoint.Name)}/model`,
      { accept: [400, 404] },
    );
    return { ...endpoint, model: answer.status === 200 ? answer.body : null };
  });
}

/** `map` with at most `limit` calls in flight (a web service may have thousands of endpoints); results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `retrain services`, `retrain service create`, `retrain endpoints` (the scoring host). */
export const registerServices: CommandGroup = (program, context) => {
  program
    .command("services")
    .summary("list the workspace's classic web services")
    .description("list the classic web services of the workspace (predictive and training), as the management API does")
    .action(async (_options: unknown, command) => {
      const ctx = context(command);
      const services = await webServices(ctx);
      const rows = services.map((s) => [s.Name, s.Id, s.EndpointCount, formatTime(s.CreationTime)]);
      ctx.out.result({ value: services }, rows.length === 0 ? `no web services in workspace ${ctx.workspace}` : table(rows, ["NAME", "ID", "ENDPOINTS", "CREATED (UTC)"]));
    });

  const service = program.command("service").description("publish predictive web services");
  service
    .command("create <name>")
    .description("publish a predictive web service from a trained model (classic: with its default endpoint)")
    .requiredOption("--model <location>", "the trained model: an http(s) URL of a .ilearner (e.g. a BES output's read URL) or store:<blob> (admin key)")
    .option("--resource-name <name>", "the trained model resource name (default '<name> [trained model]')")
    .option("--description <text>", "what it predicts")
    .option("--model-id <id>", "a name for the initial model (default: from its content)")
    .option("--kind <kind>", "classic or new (an ARM web service)", "classic")
    .option("--subscription <id>", "new web services: the subscription")
    .option("--resource-group <name>", "new web services: the resource group")
    .action(
      async (
        name: string,
        options: { model: string; resourceName?: string; description?: string; modelId?: string; kind: string; subscription?: string; resourceGroup?: string },
        command,
      ) => {
        const ctx = context(command);
        if (options.kind !== "classic" && options.kind !== "new") throw new CliError(`--kind must be classic or new (got '${options.kind}')`, 2, "BadArgument");
        if (options.kind === "new" && (options.subscription === undefined || options.resourceGroup === undefined)) {
          throw new CliError("a new web service needs --subscription and --resource-group", 2, "BadArgument");
        }
        const request = {
          name,
          kind: options.kind,
          model: modelSourceOf(options.model),
          ...(options.resourceName !== undefined ? { resourceName: options.resourceName } : {}),
          ...(options.description !== undefined ? { description: options.description } : {}),
          ...(options.modelId !== undefined ? { modelId: options.modelId } : {}),
          ...(options.subscription !== undefined ? { subscription: options.subscription } : {}),
          ...(options.resourceGroup !== undefined ? { resourceGroup: options.resourceGroup } : {}),
        };
        const { body } = await ctx
          .api("scoring")
          .post<{ kind: string; webService?: WebServiceView; defaultEndpoint?: EndpointView; resource?: { id: string }; apiLocation?: string }>(
            `/v1/workspaces/${encodeURIComponent(ctx.workspace)}/webservices`,
            { body: request },
          );
        const human =
          body.webService !== undefined
            ? [
                `web service ${body.webService.Name} published (id ${body.webService.Id}) with endpoint ${body.defaultEndpoint?.Name ?? "default"}`,
                `  execute: ${body.defaultEndpoint?.ApiLocation ?? "-"}/execute?api-version=2.0 (its keys: retrain endpoints ${body.webService.Name} --json)`,
              ]
            : [`new web service ${name} published: ${body.resource?.id ?? ""}`, `  execute: ${body.apiLocation ?? "-"}/execute?api-version=2.0`];
        ctx.out.result(body, human);
      },
    );

  program
    .command("endpoints [webservice]")
    .summary("list endpoints and the model each serves")
    .description("list the endpoints of a web service (default: of every web service) with the model each serves")
    .action(async (webService: string | undefined, _options: unknown, command) => {
      const ctx = context(command);
      const services = webService !== undefined ? [{ Id: webService, Name: webService }] : (await webServices(ctx)).map((s) => ({ Id: s.Id, Name: s.Name }));
      const names = new Map(services.map((s) => [s.Id, s.Name]));
      const endpoints = (await Promise.all(services.map((s) => endpointsOf(ctx, s.Id)))).flat();
      const rows = endpoints.map((e) => [
        names.get(e.WebServiceId) ?? webService ?? e.WebServiceId,
        e.Name,
        e.model === null ? "-" : `${e.model.modelId} r${e.model.revision}`,
        formatTime(e.model?.since),
        e.ThrottleLevel !== undefined ? `${e.ThrottleLevel}/${e.MaxConcurrentCalls ?? "?"}` : "-",
        e.ApiLocation,
      ]);
      ctx.out.result({ value: endpoints }, rows.length === 0 ? "no endpoints" : table(rows, ["WEB SERVICE", "ENDPOINT", "MODEL", "SINCE (UTC)", "THROTTLE", "API LOCATION"]));
    });
};
