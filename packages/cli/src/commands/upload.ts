import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable, Transform } from "node:stream";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { failOnRunFailure, followRun, outcomeLine } from "../follow.js";
import { formatBytes, progressBar } from "../output.js";
import type { CommandGroup } from "../program.js";
import type { UploadAnswer } from "../wire.js";

/** The exit-code policy of every command that follows a run (upload, rerun --follow). */
export const FOLLOW_EXIT_CODES = `
Exit codes:
  0  the run ended normally: promoted, rejected (the outcome is printed) or cancelled;
     also with --no-follow, and when the pipeline is paused (the upload is held)
  1  the CLI failed (unknown pipeline, no key, a refused file…), the run ended with
     TrainingFailed or PromotionFailed, or --timeout passed before it ended
  2  usage error
  3  a server could not be reached`;

/** Reads `--timeout <seconds>` into milliseconds. */
export function timeoutMsOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--timeout must be a positive number of seconds (got '${text}')`, 2, "BadArgument");
  return seconds * 1000;
}

/** Streams `file` to the pipeline's datasets, with a progress bar on a terminal. */
async function send(ctx: CliContext, pipeline: string, file: string): Promise<{ status: number; body: UploadAnswer; size: number }> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error("not a file");
    size = info.size;
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, 1, "FileNotReadable");
  }
  let sent = 0;
  let drawn = -1;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.byteLength;
      // Redrawn per percent, not per chunk: a large file is thousands of chunks.
      const percent = size === 0 ? 100 : Math.floor((sent * 100) / size);
      if (percent !== drawn) {
        drawn = percent;
        ctx.out.progress(`uploading ${basename(file)} ${progressBar(sent, size)}`);
      }
      done(null, chunk);
    },
  });
  const source = createReadStream(file).on("error", (error) => counter.destroy(error));
  ctx.out.progress(`uploading ${basename(file)} ${progressBar(0, size)}`);
  try {
    const answer = await ctx.api("ingestion").put<UploadAnswer>(`/v1/pipelines/${encodeURIComponent(pipeline)}/datasets`, {
      raw: { data: Readable.toWeb(source.pipe(counter)) as ReadableStream<Uint8Array>, contentType: "text/csv", length: size },
      headers: { "x-retrain-filename": basename(file) },
      // A large dataset takes as long as it takes; the server answers once it is stored and checked.
      timeoutMs: 60 * 60_000,
    });
    return { status: answer.status, body: answer.body, size };
  } finally {
    ctx.out.progressDone();
  }
}

/** `retrain upload <pipeline> <file.csv>` (ingestion, then the registry's timeline). */
export const registerUpload: CommandGroup = (program, context) => {
  program
    .command("upload <pipeline> <file>")
    .summary("upload a CSV dataset to a pipeline and follow its run")
    .description("upload a CSV dataset to a pipeline (a new run), then follow the run live until it ends")
    .option("--no-follow", "print the run and return at once")
    .option("--timeout <seconds>", "stop following after this long (default 1800)")
    .addHelpText("after", FOLLOW_EXIT_CODES)
    .action(async (pipeline: string, file: string, options: { follow: boolean; timeout?: string }, command) => {
      const ctx = context(command);
      const timeoutMs = timeoutMsOf(options.timeout);
      const { body: upload, size } = await send(ctx, pipeline, file);
      if (upload.held === true) {
        ctx.out.result(
          { upload },
          `pipeline ${pipeline} is paused: ${basename(file)} is held (trigger ${upload.triggerId ?? "?"}); it starts a run on: retrain pipeline resume ${pipeline}`,
        );
        return;
      }
      const runId = upload.runId;
      if (runId === undefined) throw new CliError(`the ingestion answered the upload without a run: ${JSON.stringify(upload)}`, 1, "UnexpectedAnswer");
      const what = upload.deduplicated === true ? `same content as run ${runId} (#${upload.runSequence ?? "?"}); no new run` : `run ${runId} (#${upload.runSequence ?? "?"})`;
      if (!options.follow) {
        ctx.out.result({ upload }, [`uploaded ${basename(file)} (${formatBytes(size)}) to ${pipeline}: ${what}`, `follow it with: retrain run ${runId}`]);
        return;
      }
      ctx.out.line(`uploaded ${basename(file)} (${formatBytes(size)}) to ${pipeline}: ${what}`);
      const run = await followRun(ctx, runId, timeoutMs !== undefined ? { timeoutMs } : {});
      ctx.out.result({ upload, run }, outcomeLine(run));
      failOnRunFailure(run);
    });
};
