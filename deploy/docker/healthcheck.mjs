// The container health check of a Retrain image: GET a path (default /healthz) on the service's own
// port, exit 0 on a 2xx. node is the only tool in a slim image (no curl or wget).
// The port: HEALTHCHECK_PORT, else the service's own <SERVICE>_PORT variable (RETRAIN_PORT for the
// embedded default), else the service's default port.
const DEFAULT_PORTS = {
  embedded: 8080,
  ingestion: 8080,
  trainer: 8081,
  scoring: 8082,
  evaluator: 8083,
  "classic-promoter": 8084,
  "new-promoter": 8085,
  registry: 8086,
  notifier: 8087,
};
const service = process.env.RETRAIN_SERVICE ?? "";
const variable = service === "embedded" ? "RETRAIN_PORT" : `${service.toUpperCase().replace(/-/g, "_")}_PORT`;
const port = process.env.HEALTHCHECK_PORT ?? process.env[variable] ?? DEFAULT_PORTS[service] ?? 8080;
const path = process.argv[2] ?? "/healthz";
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) console.error(`${path} on port ${port}: ${response.status}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`${path} on port ${port}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
