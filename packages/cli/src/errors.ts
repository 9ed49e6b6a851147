/** A failure the CLI reports as one line on stderr with a non-zero exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    /** 1 = the operation failed; 2 = usage; 3 = the server could not be reached. */
    readonly exitCode: 1 | 2 | 3 = 1,
    /** Machine-readable code (the server's `error.code` when there is one). */
    readonly code?: string,
  ) {
    super(message);
  }
}
