import { isRecord } from "./scoring-http.js";

/**
 * One row to score, built from a web service's Swagger document (`definitions.input1Item`): 0 for a
 * number column, "" for a text column (a missing value the model imputes). Undefined when the
 * document names no input columns.
 */
export function sampleRowFromSwagger(swagger: unknown): Record<string, number | string> | undefined {
  if (!isRecord(swagger) || !isRecord(swagger["definitions"])) return undefined;
  const item = swagger["definitions"]["input1Item"];
  if (!isRecord(item) || !isRecord(item["properties"])) return undefined;
  const row: Record<string, number | string> = {};
  for (const [name, spec] of Object.entries(item["properties"])) {
    const type = isRecord(spec) && typeof spec["type"] === "string" ? spec["type"].toLowerCase() : "string";
    row[name] = type === "number" || type === "integer" ? 0 : "";
  }
  return Object.keys(row).length > 0 ? row : undefined;
}
