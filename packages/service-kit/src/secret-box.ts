import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";

/** A secret could not be sealed or opened: no or a wrong key-encryption key, or a tampered value. */
export class SecretBoxError extends Error {
  override readonly name = "SecretBoxError";
  constructor(
    readonly code: "InvalidKek" | "WrongKek" | "Tampered" | "Malformed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const SEALED_PREFIX = "enc:v1:";

/** The id of a key-encryption key: the first 16 hex digits of its SHA-256 (names it without revealing it). */
export function kekId(kek: Buffer): string {
  return createHash("sha256").update(kek).digest("hex").slice(0, 16);
}

/** Parses a configured key-encryption key: base64 of exactly 32 bytes. `variable` names it in the error. */
export function parseKekBase64(base64: string, variable = "RETRAIN_KEK"): Buffer {
  const kek = Buffer.from(base64.trim(), "base64");
  if (kek.length !== 32) throw new SecretBoxError("InvalidKek", `${variable} must be base64 of 32 bytes; it decodes to ${kek.length}`);
  return kek;
}

/**
 * Seals short secrets (connection strings, SAS URLs) into strings that can sit in a JSON document:
 * `enc:v1:<kid>:<iv>:<ciphertext>:<tag>`, AES-256-GCM under a key derived from the key-encryption key
 * for `purpose`. The additional authenticated data binds a value to where it is stored, so a sealed
 * value copied into another document (or field) does not open there.
 */
export class SecretBox {
  readonly #key: Buffer;
  /** Id of the key-encryption key (see {@link kekId}). */
  readonly kid: string;

  constructor(kek: Buffer, purpose: string) {
    if (kek.length !== 32) throw new SecretBoxError("InvalidKek", `the key-encryption key must be 32 bytes; got ${kek.length}`);
    this.#key = Buffer.from(hkdfSync("sha256", kek, Buffer.alloc(0), `retrain/${purpose}`, 32));
    this.kid = kekId(kek);
  }

  /** True for a value {@link seal} produced (whatever key sealed it). */
  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX);
  }

  seal(secret: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return `${SEALED_PREFIX}${this.kid}:${iv.toString("base64url")}:${data.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}`;
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.startsWith(SEALED_PREFIX) ? sealed.slice(SEALED_PREFIX.length).split(":") : [];
    const [kid, iv, data, tag] = parts;
    if (parts.length !== 4 || kid === undefined || iv === undefined || data === undefined || tag === undefined) {
      throw new SecretBoxError("Malformed", "a sealed value does not have the form enc:v1:<kid>:<iv>:<data>:<tag>");
    }
    if (kid !== this.kid) {
      throw new SecretBoxError("WrongKek", `a value sealed with key-encryption key ${kid}; this process has ${this.kid} (configure the same RETRAIN_KEK everywhere)`);
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
    } catch (error) {
      throw new SecretBoxError("Tampered", "a sealed value failed authentication", { cause: error });
    }
  }
}

/**
 * One-way digests of API keys for storage: HMAC-SHA256 under a key derived from the key-encryption
 * key, so a store reader cannot even test guesses offline; without a KEK, plain SHA-256 (a store
 * reader can then test guesses of weak keys: generated keys have 256 bits and resist that).
 */
export class KeyHasher {
  readonly #key: Buffer | undefined;
  /** `hmac-sha256:<kid>` or `sha256`: two processes must agree on it to read each other's hashes. */
  readonly scheme: string;

  constructor(kek: Buffer | undefined) {
    if (kek !== undefined && kek.length !== 32) throw new SecretBoxError("InvalidKek", `the key-encryption key must be 32 bytes; got ${kek.length}`);
    this.#key = kek === undefined ? undefined : Buffer.from(hkdfSync("sha256", kek, Buffer.alloc(0), "retrain/api-key-hash", 32));
    this.scheme = kek === undefined ? "sha256" : `hmac-sha256:${kekId(kek)}`;
  }

  hash(key: string): string {
    return (this.#key === undefined ? createHash("sha256") : createHmac("sha256", this.#key)).update(key, "utf8").digest("base64url");
  }
}
