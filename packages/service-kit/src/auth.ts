import { createHash, timingSafeEqual } from "node:crypto";
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
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorizationHeader ?? "");
  const key = match?.[1];
  if (key === undefined) {
    throw new HttpError(401, "Unauthorized", "Missing or malformed Authorization header; expected 'Bearer <api key>'.", {
      headers: challenge,
    });
  }
  const principal = await verify(key);
  if (principal === undefined) {
    throw new HttpError(401, "Unauthorized", "The API key is not valid.", { headers: challenge });
  }
  return principal;
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

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
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
