import { HandshakeError } from "./errors.js";
import type { UrlPolicy } from "./url-policy.js";
import { callWebhook } from "./webhook-client.js";
import { DeliveryAttemptError } from "./errors.js";

/**
 * The CloudEvents HTTP webhook validation handshake (abuse protection): an `OPTIONS` request carrying
 * `WebHook-Request-Origin: <origin>`, which the receiver must answer 2xx with `WebHook-Allowed-Origin`
 * equal to that origin or `*`. Proves whoever registers a URL controls it.
 */
export async function validationHandshake(url: string, origin: string, policy: UrlPolicy, timeoutMs: number): Promise<void> {
  const host = safeHost(url);
  let answer;
  try {
    answer = await callWebhook({ method: "OPTIONS", url, headers: { "webhook-request-origin": origin, "user-agent": "retrain-notifier" }, policy, timeoutMs });
  } catch (error) {
    const reason = error instanceof DeliveryAttemptError ? error.message : String(error);
    throw new HandshakeError(`the validation handshake with ${host} failed: ${reason}`, host, undefined, { cause: error });
  }
  const allowed = answer.headers["webhook-allowed-origin"];
  const values = (Array.isArray(allowed) ? allowed.join(",") : (allowed ?? "")).split(",").map((v) => v.trim());
  if (answer.status < 200 || answer.status >= 300) {
    throw new HandshakeError(
      `${host} answered the validation handshake (OPTIONS with WebHook-Request-Origin: ${origin}) with ${answer.status}; it must answer 2xx with WebHook-Allowed-Origin: ${origin} (or *)`,
      host,
      answer.status,
    );
  }
  if (!values.includes(origin) && !values.includes("*")) {
    throw new HandshakeError(
      `${host} answered the validation handshake without allowing origin ${origin}: WebHook-Allowed-Origin must be ${origin} or * (got ${allowed === undefined ? "none" : JSON.stringify(allowed)})`,
      host,
      answer.status,
    );
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the receiver";
  }
}
