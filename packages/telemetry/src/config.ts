/** The process environment, read when asked (never at import): the default source of OTEL_* settings. */
export function processEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
