import { z } from "zod";

/** One entry of an error body's `details`: what was wrong with which part of the request. */
export interface ErrorDetail {
  readonly code: string;
  /** The offending field, as a dotted path (e.g. `Inputs.input1`), when there is one. */
  readonly target?: string;
  readonly message: string;
}

/** The classic error body every Retrain HTTP endpoint answers with. */
export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

/** Options for {@link HttpError}. */
export interface HttpErrorOptions {
  /** Per-field problems, written as `details`. Default none. */
  details?: readonly ErrorDetail[];
  /** The underlying failure, for logs; never written to the client. */
  cause?: unknown;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). Default none. */
  headers?: Readonly<Record<string, string>>;
}

/** A failure with a definite HTTP answer: status, a stable `code` and a client-safe message. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly code: string;
  readonly details?: readonly ErrorDetail[];
  readonly headers?: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
    if (options.headers !== undefined) this.headers = options.headers;
  }
}

/** Builds the classic body `{"error":{"code","message","details"?}}`. */
export function errorBody(code: string, message: string, details?: readonly ErrorDetail[]): ErrorBody {
  return details === undefined || details.length === 0
    ? { error: { code, message } }
    : { error: { code, message, details: [...details] } };
}

/** The message of every 500 answer: the real cause goes to the log, never to the client. */
export const INTERNAL_ERROR_MESSAGE = "The server encountered an internal error. Please retry the request.";

/**
 * Maps any thrown value to the HttpError to answer with: an HttpError as is, a zod error to 400
 * `BadArgument` with one detail per issue, a body-parser style oversize/parse failure to 413
 * `RequestEntityTooLarge` / 400 `InvalidJson`, anything else to 500 `InternalError`.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof z.core.$ZodError) {
    return new HttpError(400, "BadArgument", "The request is invalid.", {
      details: error.issues.map((issue) => ({
        code: detailCode(issue.code),
        ...(issue.path.length > 0 && { target: issue.path.map(String).join(".") }),
        message: issue.message,
      })),
      cause: error,
    });
  }
  const type = typeof error === "object" && error !== null && "type" in error ? error.type : undefined;
  if (type === "entity.too.large") {
    return new HttpError(413, "RequestEntityTooLarge", "The request body is too large.", { cause: error });
  }
  if (type === "entity.parse.failed") {
    return new HttpError(400, "InvalidJson", "The request body is not valid JSON.", { cause: error });
  }
  return new HttpError(500, "InternalError", INTERNAL_ERROR_MESSAGE, { cause: error });
}

function detailCode(zodCode: string): string {
  // zod's snake_case issue codes in the PascalCase the classic error bodies use.
  const pascal = zodCode.replace(/(^|_)([a-z])/g, (_match: string, _sep: string, letter: string) => letter.toUpperCase());
  return pascal === "Custom" ? "InvalidValue" : pascal;
}

/**
 * A named path parameter of a matched route as one string (express 5 types them as string | string[]);
 * a missing or repeated one is a 400 `BadArgument`.
 */
export function routeParam(req: { params: Record<string, string | string[] | undefined> }, name: string): string {
  const value = req.params[name];
  if (typeof value !== "string" || value.length === 0) throw new HttpError(400, "BadArgument", `Missing or invalid path parameter '${name}'.`);
  return value;
}
