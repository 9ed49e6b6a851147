import { hash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { HttpError } from "./errors.js";

/** Looks up who an API key belongs to; `undefined` when the key is unknown. */
export type ApiKeyVerifier<Principal> = (key: string) => Principal | undefined | Promise<Principal | undefined>;

const challenge = { "www-authenticate": 'Bearer realm="retrain"' };

/**
 * Checks an `Authorization: Bearer <api key>` header with `verify` and returns the principal.
 * Throws HttpError 401 `Unauthorized` when the header is missing, malformed or the key is unknown.
 * Transport-independent: the express middleware and the bare node:http hot path both use it.
 */
export async function authenticateBearer<Principal>(
  authorizationHeader: string | undefined,
  verify: ApiKeyVerifier<Principal>,
): Promise<Principal> {
  const principal = await verify(requireBearerToken(authorizationHeader));
  if (principal === undefined) throw invalidKey();
  return principal;
}

/**
 * {@link authenticateBearer} for a verifier that answers synchronously: no promise and no microtask,
 * for hot paths (RRS execute) whose keys are checked in memory.
 */
export function authenticateBearerSync<Principal>(authorizationHeader: string | undefined, verify: (key: string) => Principal | undefined): Principal {
  const principal = verify(requireBearerToken(authorizationHeader));
  if (principal === undefined) throw invalidKey();
  return principal;
}

function invalidKey(): HttpError {
  return new HttpError(401, "Unauthorized", "The API key is not valid.", { headers: challenge });
}

function requireBearerToken(authorizationHeader: string | undefined): string {
  const key = bearerToken(authorizationHeader);
  if (key === undefined) {
    throw new HttpError(401, "Unauthorized", "Missing or malformed Authorization header; expected 'Bearer <api key>'.", {
      headers: challenge,
    });
  }
  return key;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

// What `/^bearer[ \t]+(\S+)[ \t]*$/i` accepts, scanned by hand: this runs on every request.
const NON_TOKEN = /\s/;

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8 || header.slice(0, 6).toLowerCase() !== "bearer" || !isBlank(header.charCodeAt(6))) return undefined;
  let start = 7;
  while (start < header.length && isBlank(header.charCodeAt(start))) start++;
  let end = header.length;
  while (end > start && isBlank(header.charCodeAt(end - 1))) end--;
  if (end === start) return undefined;
  const token = header.slice(start, end);
  return NON_TOKEN.test(token) ? undefined : token;
}

/**
 * A verifier over a fixed set of keys. Keys are compared as SHA-256 digests with timingSafeEqual, so
 * the time taken does not reveal how much of a guessed key matched.
 */
export function apiKeyVerifier<Principal>(keys: Iterable<readonly [key: string, principal: Principal]>): ApiKeyVerifier<Principal> {
  const entries = [...keys].map(([key, principal]) => ({ digest: sha256(key), principal }));
  return (key) => {
    const digest = sha256(key);
    let found: Principal | undefined;
    // Every entry is compared, found or not, to keep the timing independent of the position.
    for (const entry of entries) if (timingSafeEqual(entry.digest, digest)) found = entry.principal;
    return found;
  };
}

// One-shot hash: no Hash object per call (it runs on every authenticated request).
function sha256(text: string): Buffer {
  return hash("sha256", text, "buffer");
}

/** The key under which {@link requireApiKey} stores the principal in `res.locals`. */
export const PRINCIPAL_LOCAL = "principal";

/**
 * Express middleware built on {@link authenticateBearer}: rejects with 401 or stores the principal
 * in `res.locals.principal` (read it with {@link principalOf}).
 */
export function requireApiKey<Principal>(verify: ApiKeyVerifier<Principal>): RequestHandler {
  return async (req, res, next) => {
    res.locals[PRINCIPAL_LOCAL] = await authenticateBearer(req.headers.authorization, verify);
    next();
  };
}

/** The principal {@link requireApiKey} stored; throws (→ 500) when the route forgot the middleware. */
export function principalOf<Principal>(res: { locals: Record<string, unknown> }): Principal {
  const principal = res.locals[PRINCIPAL_LOCAL];
  if (principal === undefined) throw new Error("no principal on this request: is requireApiKey() in front of the route?");
  return principal as Principal;
}
