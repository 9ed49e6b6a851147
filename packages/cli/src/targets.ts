// How people name targets and endpoints on the command line, and the keys the registry knows them by.
import { CliError } from "./errors.js";

/** A classic endpoint or a new (ARM) web service, as the servers address it. */
export type TargetRef =
  | { readonly kind: "classic"; readonly workspace: string; readonly webService: string; readonly endpoint: string }
  | { readonly kind: "new"; readonly subscription: string; readonly resourceGroup: string; readonly webService: string };

const USAGE = "name a target as <webservice>/<endpoint> (in --workspace), classic:<workspace>/<webservice>/<endpoint> or new:<subscription>/<resourceGroup>/<webservice>";

function segments(text: string, count: number, what: string): string[] {
  const parts = text.split("/");
  if (parts.length !== count || parts.some((p) => p === "")) throw new CliError(`'${what}' is not a target: ${USAGE}`, 2, "BadTarget");
  return parts;
}

/**
 * Reads a target argument: `classic:<ws>/<webservice>/<endpoint>`, `new:<sub>/<rg>/<webservice>`, or
 * `<webservice>/<endpoint>` in `workspace`. With `defaultEndpoint`, a bare `<webservice>` names that endpoint.
 */
export function parseTarget(text: string, workspace: string, defaultEndpoint?: string): TargetRef {
  if (text.startsWith("classic:")) {
    const [ws, webService, endpoint] = segments(text.slice("classic:".length), 3, text) as [string, string, string];
    return { kind: "classic", workspace: ws, webService, endpoint };
  }
  if (text.startsWith("new:")) {
    const [subscription, resourceGroup, webService] = segments(text.slice("new:".length), 3, text) as [string, string, string];
    return { kind: "new", subscription, resourceGroup, webService };
  }
  if (!text.includes("/") && defaultEndpoint !== undefined && text !== "") return { kind: "classic", workspace, webService: text, endpoint: defaultEndpoint };
  const [webService, endpoint] = segments(text, 2, text) as [string, string];
  return { kind: "classic", workspace, webService, endpoint };
}

/** The registry's key of a target (the same as `targetKey` of @retrain/contracts). */
export function targetKey(target: TargetRef): string {
  return target.kind === "classic"
    ? `classic:${target.workspace}/${target.webService}/${target.endpoint}`
    : `new:${target.subscription}/${target.resourceGroup}/${target.webService}`;
}
