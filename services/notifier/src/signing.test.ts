import { generateSecret, secretKey, signWebhook, verifyWebhook } from "./signing.js";
import { SecretFormatError } from "./errors.js";

describe("Standard Webhooks signing", () => {
  // The specification's published test vector: a receiver's existing library must accept what we send.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const timestamp = 1614265330;
  const body = '{"test": 2432232314}';

  it("reproduces the specification's test vector", () => {
    expect(signWebhook(secret, id, timestamp, body)).toEqual({
      "webhook-id": id,
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("verifies as a receiver does: any of several signatures, within the timestamp tolerance, not a changed body", () => {
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" };
    const now = new Date(timestamp * 1000 + 60_000);
    expect(verifyWebhook(secret, headers, body, { now })).toBe(true);
    expect(verifyWebhook(secret, headers, '{"test": 2432232315}', { now })).toBe(false);
    expect(verifyWebhook(secret, headers, body, { now: new Date(timestamp * 1000 + 600_000) })).toBe(false);
    expect(verifyWebhook(generateSecret(), headers, body, { now })).toBe(false);
  });

  it("generates whsec_ secrets of 32 random bytes and refuses malformed ones", () => {
    const generated = generateSecret();
    expect(secretKey(generated)).toHaveLength(32);
    expect(generateSecret()).not.toBe(generated);
    expect(() => secretKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toThrow(SecretFormatError);
    expect(() => secretKey("whsec_not base64!")).toThrow(SecretFormatError);
    expect(() => secretKey(`whsec_${Buffer.alloc(8).toString("base64")}`)).toThrow(/24–64 bytes/);
  });
});
