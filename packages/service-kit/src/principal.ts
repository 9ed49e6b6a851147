import { HttpError } from "./errors.js";

/** Who a Retrain API key belongs to: one workspace (or every one, for the admin key) and a role. */
export interface Principal {
  /** Key name for audit logs (never the key itself), e.g. `ws-contoso/primary` or `admin`. */
  readonly name: string;
  /** The workspace the key opens, or `*` for all. */
  readonly workspace: string;
  readonly role: "admin" | "user";
}

/** True when `principal` may see `workspace` (its own, or every one for `*`). */
export function canAccessWorkspace(principal: Principal, workspace: string): boolean {
  return principal.workspace === "*" || principal.workspace === workspace;
}

/**
 * Throws 404 (not 403) when `principal` has no access to `workspace`: a key of workspace A must not
 * learn that a job, endpoint or run of workspace B exists. Pass `notFound` to answer with exactly the
 * error a missing resource gets (same code and message), so the two cannot be told apart.
 */
export function assertWorkspaceAccess(principal: Principal, workspace: string, what = "resource", notFound?: () => HttpError): void {
  if (!canAccessWorkspace(principal, workspace)) {
    throw notFound?.() ?? new HttpError(404, "NotFound", `No ${what} found in workspace '${workspace}'.`);
  }
}

/** Throws 403 `Forbidden` unless the principal has the admin role. */
export function assertAdmin(principal: Principal, action: string): void {
  if (principal.role !== "admin") throw new HttpError(403, "Forbidden", `Only an admin key may ${action}.`);
}
