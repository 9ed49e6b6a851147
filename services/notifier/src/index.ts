// @retrain/notifier: webhook subscriptions to run events — signed CloudEvents (Standard Webhooks), retries, dead letters, a delivery log.
export { createNotifier, DEFAULT_RETRY_SCHEDULE_MS } from "./app.js";
export type { Notifier, NotifierDeps } from "./app.js";
export { loadNotifierConfig, NotifierEnv } from "./config.js";
export { SUBSCRIBABLE_TYPES, resolveEventType, isSubscribable } from "./event-types.js";
export { generateSecret, secretKey, signWebhook, verifyWebhook, SECRET_PREFIX } from "./signing.js";
export type { WebhookHeaders, VerifyWebhookOptions } from "./signing.js";
export { checkUrlForm, checkAddress, resolveChecked } from "./url-policy.js";
export type { UrlPolicy } from "./url-policy.js";
export { WebhookUrlError, HandshakeError, DeliveryAttemptError, SecretFormatError } from "./errors.js";
export type { WebhookUrlCode, AttemptFailureKind } from "./errors.js";
export type { DeliveryDocument, SubscriptionDocument, Attempt, DeliveryState } from "./documents.js";
