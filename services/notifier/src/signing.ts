import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SecretFormatError } from "./errors.js";

/** Prefix of Standard Webhooks secrets; the rest is the base64 of the HMAC key. */
export const SECRET_PREFIX = "whsec_";

const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** A fresh secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

/** The HMAC key of a `whsec_<base64>` secret (the decoded bytes, as the specification says). */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new SecretFormatError(`a webhook secret starts with '${SECRET_PREFIX}'`);
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new SecretFormatError(`a webhook secret is '${SECRET_PREFIX}' followed by base64`);
  const key = Buffer.from(encoded, "base64");
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new SecretFormatError(`a webhook secret's key is ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes (got ${key.length})`);
  }
  return key;
}

/** The Standard Webhooks headers of one delivery attempt. */
export interface WebhookHeaders {
  readonly "webhook-id": string;
  readonly "webhook-timestamp": string;
  readonly "webhook-signature": string;
}

/**
 * Signs a payload per Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed by
 * the secret's decoded bytes. `timestampSeconds` is unix seconds (receivers refuse old ones).
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): WebhookHeaders {
  const signature = createHmac("sha256", secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": `v1,${signature}` };
}

/** Options for {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Largest accepted distance between the timestamp and now. Default 5 minutes. */
  toleranceMs?: number;
  /** Default: the clock. */
  now?: Date;
}

/**
 * Checks a received webhook as a receiver does: one of the space-separated `v1,` signatures matches
 * (constant-time) and the timestamp is within the tolerance. Returns false rather than throwing.
 */
export function verifyWebhook(secret: string, headers: Readonly<Record<string, string | undefined>>, body: string, options: VerifyWebhookOptions = {}): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (id === undefined || timestamp === undefined || signatures === undefined || !/^\d+$/.test(timestamp)) return false;
  const now = (options.now ?? new Date()).getTime();
  if (Math.abs(now - Number(timestamp) * 1000) > (options.toleranceMs ?? 300_000)) return false;
  const expected = Buffer.from(signWebhook(secret, id, Number(timestamp), body)["webhook-signature"].slice(3), "base64");
  for (const entry of signatures.split(" ")) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || value === undefined) continue;
    const given = Buffer.from(value, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}
