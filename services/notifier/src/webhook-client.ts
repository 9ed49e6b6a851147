import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { DeliveryAttemptError, WebhookUrlError } from "./errors.js";
import { checkUrlForm, guardedLookup, type UrlPolicy } from "./url-policy.js";

/** Options for {@link callWebhook}. */
export interface CallWebhookOptions {
  readonly method: "POST" | "OPTIONS";
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly policy: UrlPolicy;
  /** Whole-call deadline (connect, send, response head and body). */
  readonly timeoutMs: number;
  /** Aborts the call (shutdown). */
  readonly signal?: AbortSignal;
}

/** What the receiver answered. */
export interface WebhookAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly latencyMs: number;
}

// Receivers' answers are not read beyond this: only the status matters.
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * One HTTP call to a webhook URL, with the URL rules applied to the form and, at connect time, to
 * every resolved address (see {@link guardedLookup}). Redirects are not followed. Any answer resolves
 * (the caller judges the status); no answer throws {@link DeliveryAttemptError}.
 */
export async function callWebhook(options: CallWebhookOptions): Promise<WebhookAnswer> {
  let url: URL;
  try {
    url = checkUrlForm(options.url, options.policy);
  } catch (error) {
    throw asAttemptError(error);
  }
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  const started = performance.now();
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  try {
    return await new Promise<WebhookAnswer>((resolve, reject) => {
      const req = request(
        url,
        {
          method: options.method,
          headers: { ...options.headers, ...(options.body !== undefined ? { "content-length": String(Buffer.byteLength(options.body)) } : {}) },
          lookup: guardedLookup(options.policy),
          // A fresh connection per call: a pooled socket must not outlive the address check it passed.
          agent: false,
          signal,
        },
        (res) => {
          let read = 0;
          res.on("data", (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_ANSWER_BYTES) res.destroy();
          });
          const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, latencyMs: Math.round(performance.now() - started) });
          res.once("end", done);
          res.once("close", done);
          res.once("error", () => done());
        },
      );
      req.once("error", reject);
      req.end(options.body);
    });
  } catch (error) {
    if (timeout.aborted) throw new DeliveryAttemptError("Timeout", `no answer within ${options.timeoutMs} ms`, true, undefined, { cause: error });
    if (options.signal?.aborted === true) throw new DeliveryAttemptError("Aborted", "the notifier stopped during the call", true, undefined, { cause: error });
    throw asAttemptError(error);
  }
}

function asAttemptError(error: unknown): DeliveryAttemptError {
  if (error instanceof DeliveryAttemptError) return error;
  if (error instanceof WebhookUrlError) return new DeliveryAttemptError("AddressNotAllowed", error.message, false, undefined, { cause: error });
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
  const text = error instanceof Error ? error.message : String(error);
  return new DeliveryAttemptError("Network", `${code ?? "network error"}: ${text}`, true, undefined, { cause: error });
}

/** How an answer's status is judged: 2xx delivered; 5xx, 429 and 408 retried; anything else (3xx, 4xx) final. */
export function judgeStatus(status: number): "delivered" | "retry" | "final" {
  if (status >= 200 && status < 300) return "delivered";
  if (status >= 500 || status === 429 || status === 408) return "retry";
  return "final";
}
