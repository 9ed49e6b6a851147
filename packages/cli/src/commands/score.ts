import { readFile } from "node:fs/promises";
import { ApiClient } from "../api.js";
import type { CliContext } from "../context.js";
import { parseCsv } from "../csv.js";
import { CliError } from "../errors.js";
import { table } from "../output.js";
import type { CommandGroup } from "../program.js";
import { parseTarget, targetKey, type TargetRef } from "../targets.js";
import type { EndpointView } from "../wire.js";

/** The RRS answer (classic table format, api-version 2.0, details=true). */
interface ExecuteAnswer {
  readonly Results: Record<string, { readonly type: string; readonly value: { readonly ColumnNames: string[]; readonly ColumnTypes?: string[]; readonly Values: (string | null)[][] } }>;
}

/** Where a target executes and the key it takes: the endpoint's own (the workspace key does not score). */
async function executionOf(ctx: CliContext, target: TargetRef): Promise<{ apiLocation: string; key: string }> {
  const scoring = ctx.api("scoring");
  if (target.kind === "classic") {
    const path = `/workspaces/${encodeURIComponent(target.workspace)}/webservices/${encodeURIComponent(target.webService)}/endpoints/${encodeURIComponent(target.endpoint)}`;
    const { body } = await scoring.get<EndpointView>(path);
    return { apiLocation: body.ApiLocation, key: body.PrimaryKey };
  }
  const resource = `/subscriptions/${encodeURIComponent(target.subscription)}/resourceGroups/${encodeURIComponent(target.resourceGroup)}`;
  const { body: model } = await scoring.get<{ apiLocation: string }>(`/v1${resource}/webServices/${encodeURIComponent(target.webService)}/model`);
  const { body: keys } = await scoring.get<{ primary: string }>(`${resource}/providers/Microsoft.MachineLearning/webServices/${encodeURIComponent(target.webService)}/listKeys`, {
    query: { "api-version": "2017-01-01" },
  });
  return { apiLocation: model.apiLocation, key: keys.primary };
}

/** `retrain score <endpoint> <file.csv>` (RRS execute on the scoring host). */
export const registerScore: CommandGroup = (program, context) => {
  program
    .command("score <endpoint> <file>")
    .summary("score a CSV file's rows with an endpoint and print the predictions")
    .description(
      "score the rows of a CSV file with an endpoint (Request-Response Service) and print the predictions; " +
        "endpoint: <webservice>[/<endpoint>] (default endpoint 'default'), classic:<ws>/<webservice>/<endpoint> or new:<subscription>/<resourceGroup>/<webservice>",
    )
    .action(async (endpoint: string, file: string, _options: unknown, command) => {
      const ctx = context(command);
      const target = parseTarget(endpoint, ctx.workspace, "default");
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        throw new CliError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, 1, "FileNotReadable");
      }
      const input = parseCsv(text, file);
      const { apiLocation, key } = await executionOf(ctx, target);
      const rrs = new ApiClient("scoring", apiLocation, key);
      const answer = await rrs.post<ExecuteAnswer>("execute", {
        query: { "api-version": "2.0", details: "true" },
        body: { Inputs: { input1: { ColumnNames: input.columns, Values: input.rows } }, GlobalParameters: {} },
      });
      const output = answer.body.Results["output1"]?.value;
      if (output === undefined) throw new CliError(`the endpoint answered without Results.output1: ${JSON.stringify(answer.body).slice(0, 200)}`, 1, "UnexpectedAnswer");
      const model = answer.headers.get("x-retrain-model");
      const predictions = output.Values.map((row) => Object.fromEntries(output.ColumnNames.map((name, c) => [name, row[c] ?? null])));
      const rows = input.rows.map((row, r) => [...row, ...(output.Values[r] ?? [])]);
      ctx.out.result({ target: targetKey(target), model, columnNames: output.ColumnNames, columnTypes: output.ColumnTypes ?? null, predictions }, [
        table(rows, [...input.columns, ...output.ColumnNames]),
        `${predictions.length} row(s) scored by ${targetKey(target)}${model !== null ? ` (model ${model})` : ""}`,
      ]);
    });
};
