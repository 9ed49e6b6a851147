/**
 * Why an .ilearner could not be written or read.
 * - `NotAnIlearner`: the bytes do not start with the `RTLN` magic.
 * - `UnknownFormatVersion`: a format version this library cannot read (written by a newer one).
 * - `Truncated`: the file is shorter than its own prelude says (an interrupted copy or write).
 * - `ChecksumMismatch`: the SHA-256 trailer does not match the content (bit rot, a partial overwrite).
 * - `Corrupt`: the checksum matches but the content is malformed (bad header JSON, an array outside
 *   the file) — written by a buggy writer.
 * - `InvalidInput`: `encodeIlearner` was given something it cannot store (a non-finite number in
 *   JSON metadata, a malformed lineage).
 */
export type IlearnerErrorCode = "NotAnIlearner" | "UnknownFormatVersion" | "Truncated" | "ChecksumMismatch" | "Corrupt" | "InvalidInput";

/** The one error type of `src/ilearner`; `code` says why, the message says where. */
export class IlearnerError extends Error {
  override readonly name = "IlearnerError";

  constructor(
    readonly code: IlearnerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `error` is an {@link IlearnerError}, optionally with the given code (narrowing helper). */
export function isIlearnerError<C extends IlearnerErrorCode>(error: unknown, code?: C): error is IlearnerError & { code: C } {
  return error instanceof IlearnerError && (code === undefined || error.code === code);
}
