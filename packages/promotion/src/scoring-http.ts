import { tracedFetch } from "@retrain/telemetry";
import { PromotionRefusedError, ScoringHostError } from "./errors.js";

/** An answer of the scoring host. */
export interface HostAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or undefined for an empty / non-JSON body. */
  readonly body: unknown;
  /** `error.code` of the classic / ARM error body, when there is one. */
  readonly code: string | undefined;
  readonly message: string | undefined;
}

/** Options of {@link callScoringHost}. */
export interface CallOptions {
  /** Bearer key. */
  readonly key: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
  /** Per-request time limit. Default 60 s. */
  readonly timeoutMs?: number;
}

/** Narrows to a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * One HTTP call to the scoring host with a bearer key; network failures and 5xx answers throw
 * {@link ScoringHostError} (transient: the approval is retried), everything else is returned.
 */
export async function callScoringHost(method: string, url: string, options: CallOptions): Promise<HostAnswer> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  const headers: Record<string, string> = { authorization: `Bearer ${options.key}`, accept: "application/json", ...options.headers };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    // A client span whose traceparent the scoring host continues: its PATCH / ARM update joins the run's trace.
    // A 404 is how the host says "no such endpoint yet": the promotion decides whether that is a failure.
    response = await tracedFetch(url, { method, headers, signal, expectedStatuses: [404], ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  } catch (error) {
    throw new ScoringHostError(`${method} ${redact(url)} failed: ${error instanceof Error ? error.message : String(error)}`, { method, url: redact(url) }, { cause: error });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : undefined;
  const code = typeof error?.["code"] === "string" ? error["code"] : undefined;
  const message = typeof error?.["message"] === "string" ? error["message"] : undefined;
  if (response.status >= 500) {
    throw new ScoringHostError(`${method} ${redact(url)} answered ${response.status}${code !== undefined ? ` ${code}` : ""}: ${message ?? text.slice(0, 200)}`, {
      method,
      url: redact(url),
      status: response.status,
      ...(code !== undefined ? { code } : {}),
    });
  }
  return { status: response.status, headers: response.headers, body, code, message };
}

/**
 * Turns a 4xx answer into the promotion's failure: 409 `StaleModelUpdate` is `Superseded` (a newer
 * run got there first), any other code is passed on as the scoring host named it. 408/429 are
 * transient and thrown as {@link ScoringHostError}.
 */
export function refusal(answer: HostAnswer, what: string): Error {
  if (answer.status === 408 || answer.status === 429 || answer.code === "AnotherOperationInProgress") {
    return new ScoringHostError(`${what}: ${answer.status} ${answer.code ?? ""} (will retry)`, { method: "", url: "", status: answer.status, ...(answer.code !== undefined ? { code: answer.code } : {}) });
  }
  if (answer.code === "StaleModelUpdate") {
    return new PromotionRefusedError("Superseded", `${what}: a newer run of the pipeline is served already (${answer.message ?? "StaleModelUpdate"}).`, { status: answer.status });
  }
  const code = answer.code ?? `Http${answer.status}`;
  return new PromotionRefusedError(code, `${what}: ${answer.message ?? `HTTP ${answer.status}`}`, { status: answer.status });
}

/** The URL without its query string (never log a SAS token). */
export function redact(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
