import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { z } from "zod";

/** A workspace and its API keys (primary and secondary, as the classic service had). */
export const WorkspaceConfig = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
  keys: z.object({ primary: z.string().min(16), secondary: z.string().min(16).optional() }),
});
export type WorkspaceConfig = z.infer<typeof WorkspaceConfig>;

/**
 * retrain.yaml: one file for the whole deployment. Each service reads only its own part (the
 * trainer its training services, ingestion its pipelines, …); unknown parts are kept for the others.
 */
export const RetrainConfigFile = z
  .object({
    workspaces: z.array(WorkspaceConfig).default([]),
  })
  .passthrough();
export type RetrainConfigFile = z.infer<typeof RetrainConfigFile>;

/** Thrown when retrain.yaml cannot be read or does not match; names the file and the field. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** Reads retrain.yaml (or returns an empty configuration when no path is given). */
export async function readConfigFile(path: string | undefined): Promise<RetrainConfigFile & Record<string, unknown>> {
  if (path === undefined) return { workspaces: [] };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigFileError(path, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigFileError(path, `not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  return parseSection(path, RetrainConfigFile, raw ?? {}) as RetrainConfigFile & Record<string, unknown>;
}

/** Parses one service's part of the file with its own schema, naming the path of the first problem. */
export function parseSection<S extends z.ZodType>(path: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? issue.path.map(String).join(".") : "";
    throw new ConfigFileError(path, `${where || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}
