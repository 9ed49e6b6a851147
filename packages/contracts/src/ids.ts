import { createHash, randomBytes } from "node:crypto";

/**
 * A deterministic event id from (run id, event type, target key): a re-publish after a crash carries
 * the same id, so the broker's duplicate window and the consumer's inbox both drop it.
 * Formatted as a UUID (version 8, the "custom" layout) so it fits every broker's message-id field.
 */
export function deterministicEventId(runId: string, type: string, targetKey = ""): string {
  const hex = createHash("sha256").update(`${runId}\u0000${type}\u0000${targetKey}`).digest("hex");
  return formatUuid8(hex);
}

/** A random UUID-shaped id for events that are not tied to a run (e.g. ad-hoc notifications). */
export function randomEventId(): string {
  return formatUuid8(randomBytes(16).toString("hex"));
}

function formatUuid8(hex: string): string {
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID: 48-bit millisecond time + 80 random bits, Crockford base32; sorts by creation time. */
export function ulid(now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD.charAt(t % 32) + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(16);
  let rand = "";
  for (let i = 0; i < 16; i++) rand += CROCKFORD.charAt((random[i] ?? 0) % 32);
  return time + rand;
}
