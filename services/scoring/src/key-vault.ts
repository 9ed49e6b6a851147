import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

/** A secret as stored: AES-256-GCM ciphertext with its IV and tag, and which key-encryption key sealed it. */
export const SealedSecret = z.object({
  /** First 16 hex chars of SHA-256(KEK): tells a wrong KEK from a tampered document. */
  kid: z.string(),
  iv: z.string(),
  data: z.string(),
  tag: z.string(),
});
export type SealedSecret = z.infer<typeof SealedSecret>;

/** A sealed secret could not be opened: the wrong key-encryption key, or a tampered document. */
export class KeyVaultError extends Error {
  override readonly name = "KeyVaultError";
  constructor(
    readonly code: "WrongKek" | "Tampered" | "InvalidKek",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Encrypts API keys at rest. Each secret gets its own random IV; the additional authenticated data
 * binds it to where it is stored (the target id and key slot), so a ciphertext copied into another
 * document does not open there.
 */
export class KeyVault {
  readonly #kek: Buffer;
  readonly kid: string;

  constructor(kek: Buffer) {
    if (kek.length !== 32) throw new KeyVaultError("InvalidKek", `the key-encryption key must be 32 bytes; got ${kek.length}`);
    this.#kek = Buffer.from(kek);
    this.kid = createHash("sha256").update(kek).digest("hex").slice(0, 16);
  }

  seal(secret: string, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#kek, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return { kid: this.kid, iv: iv.toString("base64"), data: data.toString("base64"), tag: cipher.getAuthTag().toString("base64") };
  }

  open(sealed: SealedSecret, aad: string): string {
    if (sealed.kid !== this.kid) {
      throw new KeyVaultError("WrongKek", `secret sealed with key ${sealed.kid}; this process has ${this.kid} (configure the same SCORING_KEK, or RETRAIN_KEK, everywhere)`);
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#kek, Buffer.from(sealed.iv, "base64"));
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString("utf8");
    } catch (error) {
      throw new KeyVaultError("Tampered", "a sealed secret failed authentication", { cause: error });
    }
  }
}

/** A new API key: 64 random bytes in base64, the shape of the classic service's keys. */
export function generateApiKey(): string {
  return randomBytes(64).toString("base64");
}

/** Parses a configured KEK (base64 of exactly 32 bytes). */
export function parseKek(base64: string): Buffer {
  const kek = Buffer.from(base64.trim(), "base64");
  if (kek.length !== 32) throw new KeyVaultError("InvalidKek", `SCORING_KEK (or RETRAIN_KEK) must be base64 of 32 bytes; it decodes to ${kek.length}`);
  return kek;
}

/**
 * The KEK from configuration, or else the one kept in `file` (created with mode 0600 on first use).
 * `generated` tells the caller to warn: a generated key only works for processes sharing that file.
 */
export async function loadOrCreateKek(configured: string | undefined, file: string): Promise<{ kek: Buffer; source: "config" | "file" | "generated" }> {
  if (configured !== undefined) return { kek: parseKek(configured), source: "config" };
  try {
    return { kek: parseKek(await readFile(file, "utf8")), source: "file" };
  } catch (error) {
    if (!isMissingFile(error)) throw error;
  }
  const kek = randomBytes(32);
  await mkdir(dirname(file), { recursive: true });
  try {
    // "wx": if another process created it meanwhile, use theirs.
    await writeFile(file, kek.toString("base64"), { mode: 0o600, flag: "wx" });
    return { kek, source: "generated" };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { kek: parseKek(await readFile(file, "utf8")), source: "file" };
  }
}

function isMissingFile(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === "ENOENT";
}
