import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Default lifetime of the read URLs Retrain mints (model copies, promotions): 15 minutes. Long enough
 * for a PATCH to copy the model, short enough that a leaked URL soon stops working.
 */
export const DEFAULT_READ_URL_LIFETIME_MS = 15 * 60_000;

/** Default lifetime of the SAS in a finished BES job's `Results`: 24 h, as observed on the classic service. */
export const DEFAULT_RESULT_SAS_LIFETIME_MS = 24 * 3_600_000;

/** Path under a host's base URL where {@link createBlobUrlHandler} serves signed blob reads by default. */
export const DEFAULT_BLOB_URL_PATH_PREFIX = "/_blobs/";

/**
 * The signature of a read URL: HMAC-SHA256 (base64url) over `<name>\n<expiry epoch ms>`. Names cannot
 * contain control characters, so the newline keeps (name, expiry) pairs unambiguous.
 */
export function signBlobRead(secret: string | Buffer, name: string, expiresAtMs: number): string {
  return createHmac("sha256", secret).update(`${name}\n${expiresAtMs}`).digest("base64url");
}

/** Constant-time check of a signature produced by {@link signBlobRead}. */
export function verifyBlobRead(secret: string | Buffer, name: string, expiresAtMs: number, signature: string): boolean {
  const expected = Buffer.from(signBlobRead(secret, name, expiresAtMs));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** `a/b c.csv` → `a/b%20c.csv`: each segment percent-encoded, the separators kept. */
export function encodeBlobPath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}
