/**
 * The process environment, read when asked (never at import). The documented exception to "process.env
 * only in a service's config.ts/main.ts": setupTelemetry, which each main.ts calls once, reads the
 * standard OTEL_* variables here, as every OpenTelemetry SDK does, so that a service is configured
 * for tracing by those variables alone. Tests pass `env` to setupTelemetry instead.
 */
export function processEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
