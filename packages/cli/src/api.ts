import { CliError } from "./errors.js";
import type { ServiceName } from "./config.js";

/** Options of one call. */
export interface RequestOptions {
  readonly body?: unknown;
  /** Raw body (an upload); sent as is with `contentType`. */
  readonly raw?: { readonly data: NonNullable<RequestInit["body"]>; readonly contentType: string; readonly length?: number };
  readonly query?: Record<string, string | undefined>;
  readonly headers?: Record<string, string>;
  /** Statuses returned to the caller instead of thrown (e.g. 404 when absence is an answer). */
  readonly accept?: readonly number[];
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A JSON answer. */
export interface ApiAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The server's `{error:{code,message}}` (Retrain's and the classic wire format) or ARM's `{error:{code,message}}`. */
function serverError(body: unknown): { code?: string; message?: string } {
  const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : undefined;
  const code = typeof error?.["code"] === "string" ? error["code"] : undefined;
  const message = typeof error?.["message"] === "string" ? error["message"] : undefined;
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}

/** HTTP client for one Retrain service: bearer key, JSON in and out, failures as one-line {@link CliError}s. */
export class ApiClient {
  constructor(
    readonly service: ServiceName,
    readonly baseUrl: string,
    private readonly key: string | undefined,
  ) {}

  url(path: string, query?: Record<string, string | undefined>): string {
    const url = new URL(path, this.baseUrl.endsWith("/") ? this.baseUrl : `${this.baseUrl}/`);
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    return url.toString();
  }

  get<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    return this.request<T>("GET", path, options);
  }
  post<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    return this.request<T>("POST", path, options);
  }
  put<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    return this.request<T>("PUT", path, options);
  }
  patch<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    return this.request<T>("PATCH", path, options);
  }
  delete<T = unknown>(path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    return this.request<T>("DELETE", path, options);
  }

  /**
   * One call. The body is returned as parsed JSON typed `T` unchecked: commands print what the server said and
   * read only fields they name, so a stricter client would only duplicate the server's schemas.
   */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (this.key !== undefined) headers["authorization"] = `Bearer ${this.key}`;
    let body: RequestInit["body"] | undefined;
    if (options.raw !== undefined) {
      headers["content-type"] = options.raw.contentType;
      if (options.raw.length !== undefined) headers["content-length"] = String(options.raw.length);
      body = options.raw.data;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal, ...(body !== undefined ? { body, duplex: "half" } : {}) } as RequestInit);
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      throw new CliError(`cannot reach the ${this.service} at ${this.baseUrl}: ${cause}`, 3, "Unreachable");
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (response.ok || options.accept?.includes(response.status) === true) return { status: response.status, body: parsed as T, headers: response.headers };
    const { code, message } = serverError(parsed);
    const reason = message ?? (typeof parsed === "string" ? parsed.slice(0, 200) : response.statusText);
    if (response.status === 401) throw new CliError(`not authorized by the ${this.service}: ${reason} (set RETRAIN_KEY or --key)`, 1, code ?? "Unauthorized");
    // The server's reason first: it is what a person acts on; the call is there to find the server's side.
    throw new CliError(`${reason} (${method} ${path} → ${response.status}${code !== undefined ? ` ${code}` : ""})`, 1, code);
  }
}
