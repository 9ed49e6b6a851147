import { SecretBox, SecretBoxError } from "@retrain/service-kit";

/**
 * How subscription secrets rest in the store: sealed (AES-256-GCM, bound to the subscription id) under
 * the platform key-encryption key when one is configured, else as given. A store reader without the
 * KEK cannot forge signatures; a sealed secret opens only with the same `RETRAIN_KEK`.
 */
export class SubscriptionSecrets {
  readonly #box: SecretBox | undefined;

  constructor(kek: Buffer | undefined) {
    this.#box = kek === undefined ? undefined : new SecretBox(kek, "webhook-secrets");
  }

  seal(subscriptionId: string, secret: string): string {
    return this.#box === undefined ? secret : this.#box.seal(secret, `subscription:${subscriptionId}`);
  }

  /** The secret to sign with; throws SecretBoxError for a sealed secret without (or with another) KEK. */
  open(subscriptionId: string, stored: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    if (this.#box === undefined) throw new SecretBoxError("WrongKek", "the subscription's secret is sealed with a key-encryption key: configure RETRAIN_KEK");
    return this.#box.open(stored, `subscription:${subscriptionId}`);
  }
}
