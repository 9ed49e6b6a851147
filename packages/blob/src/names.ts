import { BlobError, InvalidBlobNameError } from "./errors.js";

/** Longest blob name accepted, in UTF-16 code units (Azure's limit is 1024 characters). */
export const MAX_BLOB_NAME_LENGTH = 1024;

// C0 controls and DEL: invisible in logs, unsafe in file names and URLs.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/; // eslint-disable-line no-control-regex
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Throws {@link InvalidBlobNameError} unless `name` is a relative, `/`-separated path both adapters can
 * store identically: non-empty, ≤ 1024 chars, no leading `/`, no empty/`.`/`..` segment, no backslash,
 * no control character, well-formed Unicode.
 */
export function validateBlobName(name: string): void {
  if (typeof name !== "string") throw new InvalidBlobNameError(String(name), "must be a string");
  const problem = nameProblem(name);
  if (problem !== undefined) throw new InvalidBlobNameError(name, problem);
}

/**
 * Validates a `list()` prefix: the empty string (everything) or a string a blob name may start with,
 * so a trailing `/` is allowed but `..`, backslashes and control characters are not.
 */
export function validateBlobPrefix(prefix: string): void {
  if (prefix === "") return;
  // "a/" is a fine prefix; judge it as if a final segment followed.
  const problem = nameProblem(prefix.endsWith("/") ? `${prefix}x` : prefix, true);
  if (problem !== undefined) throw new InvalidBlobNameError(prefix, `as a list prefix: ${problem}`);
}

function nameProblem(name: string, isPrefix = false): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_BLOB_NAME_LENGTH) return `must be at most ${MAX_BLOB_NAME_LENGTH} characters (got ${name.length})`;
  if (name.startsWith("/")) return "must be relative (no leading '/')";
  if (name.includes("\\")) return "must not contain a backslash (use '/' between segments)";
  const control = CONTROL_CHARACTER.exec(name);
  if (control !== null) {
    const hex = control[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `must not contain control characters (U+${hex} at index ${control.index})`;
  }
  if (LONE_SURROGATE.test(name)) return "must be well-formed Unicode (lone surrogate)";
  const segments = name.split("/");
  for (const [index, segment] of segments.entries()) {
    // A prefix may end mid-segment ("a/." could become "a/.x"), so only whole segments are judged.
    if (isPrefix && index === segments.length - 1) continue;
    if (segment === "") return "must not contain an empty segment ('//' or a trailing '/')";
    if (segment === "." || segment === "..") return `must not contain a '${segment}' segment`;
  }
  return undefined;
}

/**
 * Metadata must survive a round trip through HTTP headers on Azure, so both adapters accept only
 * C#-identifier keys (stored lowercase, as Azure returns them) and printable ASCII values.
 */
export function normalizeMetadata(blobName: string, metadata: Record<string, string> | undefined): Record<string, string> {
  const result = new Map<string, string>();
  if (metadata === undefined) return {};
  for (const [key, value] of Object.entries(metadata)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new BlobError("InvalidName", blobName, `metadata key ${JSON.stringify(key)} must be a C# identifier ([A-Za-z_][A-Za-z0-9_]*)`);
    }
    if (typeof value !== "string" || !/^[\x20-\x7e]*$/.test(value) || value.trim() !== value) {
      throw new BlobError(
        "InvalidName",
        blobName,
        `metadata value for ${JSON.stringify(key)} must be printable ASCII without leading/trailing spaces`,
      );
    }
    const lower = key.toLowerCase();
    if (result.has(lower)) {
      throw new BlobError("InvalidName", blobName, `metadata key ${JSON.stringify(key)} is given twice (keys are case-insensitive)`);
    }
    result.set(lower, value);
  }
  // fromEntries defines own properties, so a key like "__proto__" cannot touch the prototype.
  return Object.fromEntries(result);
}
