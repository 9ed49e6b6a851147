// The registry as a small OTLP/HTTP trace receiver: services that export their spans here
// (OTEL_EXPORTER_OTLP_ENDPOINT=<registry URL>) make `retrain trace` and /ui show them beside the
// run's events, with no tracing backend. Spans are kept in memory, bounded, per replica.
import { HttpError, principalOf, routeParam, type Principal } from "@retrain/service-kit";
import { OtlpDecodeError, decodeOtlpTraces, type ReceivedSpan } from "@retrain/telemetry";
import type { RequestHandler, Router } from "express";

/** The span attribute that ties a trace to a run. */
export const RUN_ID_ATTRIBUTE = "retrain.run_id";

/** Options of {@link SpanStore}. */
export interface SpanStoreOptions {
  /** Spans kept in all; the oldest traces are dropped past it. Default 50 000. */
  readonly maxSpans?: number;
  /** Spans kept per trace; later ones are dropped. Default 2 000. */
  readonly maxSpansPerTrace?: number;
}

interface TraceEntry {
  readonly spans: Map<string, ReceivedSpan>;
  readonly runIds: Set<string>;
}

/**
 * Received spans grouped by trace, and the runs each trace belongs to (from `retrain.run_id` on any
 * of its spans), so every span of a run's trace is found — also the HTTP spans that carry no run
 * id. Bounded: past `maxSpans` the traces first seen earliest are dropped whole.
 */
export class SpanStore {
  readonly #traces = new Map<string, TraceEntry>();
  readonly #runs = new Map<string, Set<string>>();
  readonly #maxSpans: number;
  readonly #maxPerTrace: number;
  #size = 0;

  constructor(options: SpanStoreOptions = {}) {
    this.#maxSpans = options.maxSpans ?? 50_000;
    this.#maxPerTrace = options.maxSpansPerTrace ?? 2_000;
  }

  /** Spans held now. */
  get size(): number {
    return this.#size;
  }

  /** Adds spans (a re-sent span replaces the earlier copy); returns how many were dropped for the per-trace bound. */
  add(spans: readonly ReceivedSpan[]): number {
    let dropped = 0;
    for (const span of spans) {
      let entry = this.#traces.get(span.traceId);
      if (entry === undefined) {
        entry = { spans: new Map(), runIds: new Set() };
        this.#traces.set(span.traceId, entry);
      }
      if (!entry.spans.has(span.spanId)) {
        if (entry.spans.size >= this.#maxPerTrace) {
          dropped++;
          continue;
        }
        this.#size++;
      }
      entry.spans.set(span.spanId, span);
      const runId = span.attributes[RUN_ID_ATTRIBUTE];
      if (typeof runId === "string" && runId !== "" && !entry.runIds.has(runId)) {
        entry.runIds.add(runId);
        let traces = this.#runs.get(runId);
        if (traces === undefined) this.#runs.set(runId, (traces = new Set()));
        traces.add(span.traceId);
      }
    }
    this.#evict();
    return dropped;
  }

  /** Every span of the traces the run appears in, by start time. */
  forRun(runId: string): { traceIds: string[]; spans: ReceivedSpan[] } {
    const traceIds = [...(this.#runs.get(runId) ?? [])];
    const spans = traceIds.flatMap((traceId) => [...(this.#traces.get(traceId)?.spans.values() ?? [])]);
    // Ties (a child started in the same instant) put the longer, enclosing span first.
    spans.sort((a, b) => a.startTimeMs - b.startTimeMs || b.durationMs - a.durationMs);
    return { traceIds, spans };
  }

  #evict(): void {
    while (this.#size > this.#maxSpans) {
      const oldest = this.#traces.keys().next();
      if (oldest.done === true) return;
      const entry = this.#traces.get(oldest.value);
      this.#traces.delete(oldest.value);
      if (entry === undefined) continue;
      this.#size -= entry.spans.size;
      for (const runId of entry.runIds) {
        const traces = this.#runs.get(runId);
        traces?.delete(oldest.value);
        if (traces?.size === 0) this.#runs.delete(runId);
      }
    }
  }
}

/** What {@link registerOtlpRoutes} needs from the registry. */
export interface OtlpRoutesOptions {
  readonly spans: SpanStore;
  /** The registry's API-key check. */
  readonly auth: RequestHandler;
  /** Throws (404) unless the caller may see the run. */
  readonly visibleRun: (runId: string, principal: Principal) => Promise<unknown>;
}

/**
 * `POST /v1/traces` (OTLP/HTTP, JSON encoding; an exporter sends the key with
 * OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<key>) and `GET /v1/runs/{runId}/spans`.
 */
export function registerOtlpRoutes(router: Router, options: OtlpRoutesOptions): void {
  const { spans, auth } = options;
  router.post("/v1/traces", auth, (req, res) => {
    const type = req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      throw new HttpError(415, "UnsupportedMediaType", "OTLP traces are accepted as JSON only (OTEL_EXPORTER_OTLP_PROTOCOL=http/json, no compression).");
    }
    let received: ReceivedSpan[];
    try {
      received = decodeOtlpTraces(req.body);
    } catch (error) {
      if (error instanceof OtlpDecodeError) throw new HttpError(400, "InvalidOtlpRequest", error.message);
      throw error;
    }
    const dropped = spans.add(received);
    // OTLP's answer: an empty object, or partialSuccess naming what was not kept.
    res.status(200).json(dropped === 0 ? {} : { partialSuccess: { rejectedSpans: dropped, errorMessage: "too many spans in one trace" } });
  });
  router.get("/v1/runs/:runId/spans", auth, async (req, res) => {
    const runId = routeParam(req, "runId");
    await options.visibleRun(runId, principalOf<Principal>(res));
    const { traceIds, spans: found } = spans.forRun(runId);
    res.json({ runId, traceIds, value: found });
  });
}
