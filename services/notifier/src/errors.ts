/** Why a webhook URL is refused at registration or at delivery. */
export type WebhookUrlCode = "InvalidUrl" | "HttpsRequired" | "AddressNotAllowed" | "UnresolvableHost";

/** A subscription URL the notifier will not call (bad form, plain http, or an address it must not reach). */
export class WebhookUrlError extends Error {
  override readonly name = "WebhookUrlError";
  constructor(
    readonly code: WebhookUrlCode,
    message: string,
    /** The host named in the URL (never the path or query: they may carry tokens). */
    readonly host: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The receiver did not confirm the CloudEvents webhook validation handshake. */
export class HandshakeError extends Error {
  override readonly name = "HandshakeError";
  constructor(
    message: string,
    readonly host: string,
    /** The status the receiver answered the OPTIONS request with, when it answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How one delivery attempt failed. */
export type AttemptFailureKind = "Timeout" | "Network" | "AddressNotAllowed" | "Aborted" | "Secret";

/** One delivery attempt that did not get a 2xx. */
export class DeliveryAttemptError extends Error {
  override readonly name = "DeliveryAttemptError";
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    /** Whether another attempt may succeed: 5xx, 429, timeouts, network errors and aborts are retried. */
    readonly retryable: boolean,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A webhook secret not in the Standard Webhooks form `whsec_<base64 of 24–64 bytes>`. */
export class SecretFormatError extends Error {
  override readonly name = "SecretFormatError";
}
