import { createHmac, timingSafeEqual } from "node:crypto";

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
