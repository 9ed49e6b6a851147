import { apiKeyVerifier, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { WorkspaceConfig } from "./config-file.js";

/** The API keys of a deployment: the admin key (all workspaces) and each workspace's keys. */
export function keyVerifier(options: { adminKey?: string; workspaces: readonly WorkspaceConfig[] }): ApiKeyVerifier<Principal> {
  const entries: Array<[string, Principal]> = [];
  if (options.adminKey !== undefined) entries.push([options.adminKey, { name: "admin", workspace: "*", role: "admin" }]);
  for (const ws of options.workspaces) {
    entries.push([ws.keys.primary, { name: `${ws.id}/primary`, workspace: ws.id, role: "user" }]);
    if (ws.keys.secondary !== undefined) entries.push([ws.keys.secondary, { name: `${ws.id}/secondary`, workspace: ws.id, role: "user" }]);
  }
  return apiKeyVerifier(entries);
}
