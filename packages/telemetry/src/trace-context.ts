import { AsyncLocalStorage } from "node:async_hooks";
import type { Context } from "@opentelemetry/api";
import {
  ROOT_CONTEXT,
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * An opaque position in a trace (what OTel calls a Context): pass it as `parent` to start a span
 * under it, or to {@link injectTraceHeaders} to propagate it. Callers never see OTel types.
 */
export interface TraceContext {
  /** Brand only; the wrapped context is private to this package. */
  readonly kind: "retrain.trace-context";
}

/** Trace and span ids as lowercase hex, absent when there is no valid span. */
export interface TraceIds {
  traceId?: string;
  spanId?: string;
}

class WrappedContext implements TraceContext {
  readonly kind = "retrain.trace-context";
  constructor(readonly otel: Context) {}
}

/** Wraps an OTel context into our opaque handle (package-internal). */
export function wrapContext(otel: Context): TraceContext {
  return new WrappedContext(otel);
}

/** The OTel context behind a handle; a foreign object is treated as the root (package-internal). */
export function unwrapContext(traceContext: TraceContext): Context {
  return traceContext instanceof WrappedContext ? traceContext.otel : ROOT_CONTEXT;
}

// The W3C propagator is used directly rather than through the global API so that a traceparent
// is passed through even when setupTelemetry never ran (the global propagator is a no-op then).
let propagator: W3CTraceContextPropagator | undefined;
function w3c(): W3CTraceContextPropagator {
  propagator ??= new W3CTraceContextPropagator();
  return propagator;
}

// Without a registered context manager, `context.with` does not make anything active. This store
// stands in for it then, so spans still nest and a traceparent still flows through without an SDK.
let fallbackStore: AsyncLocalStorage<Context> | undefined;
const probeKey = createContextKey("retrain.telemetry.probe");
let sdkContextManagerRegistered = false;

/** Records whether setupTelemetry registered a context manager, sparing the probe (package-internal). */
export function setContextManagerRegistered(registered: boolean): void {
  sdkContextManagerRegistered = registered;
}

function globalContextManagerWorks(): boolean {
  if (sdkContextManagerRegistered) return true;
  const marker = ROOT_CONTEXT.setValue(probeKey, true);
  return context.with(marker, () => context.active() === marker);
}

/** The active OTel context, from the global manager or the fallback store (package-internal). */
export function activeOtelContext(): Context {
  if (globalContextManagerWorks()) return context.active();
  return fallbackStore?.getStore() ?? ROOT_CONTEXT;
}

/** Runs `fn` with `otel` as the active context (package-internal). */
export function runInOtelContext<T>(otel: Context, fn: () => T): T {
  if (globalContextManagerWorks()) return context.with(otel, fn);
  fallbackStore ??= new AsyncLocalStorage<Context>();
  return fallbackStore.run(otel, fn);
}

/** The trace position active here (inside a span: that span). */
export function activeTraceContext(): TraceContext {
  return wrapContext(activeOtelContext());
}

/** Runs `fn` with `traceContext` active, so spans started inside become its children. */
export function runWithTraceContext<T>(traceContext: TraceContext, fn: () => T): T {
  return runInOtelContext(unwrapContext(traceContext), fn);
}

/**
 * Writes `traceparent` (and `tracestate` when present) for `parent` (default: the active context)
 * into `carrier`; writes nothing when there is no valid span context.
 */
export function injectTraceHeaders(carrier: Record<string, string>, parent?: TraceContext): void {
  const otel = parent === undefined ? activeOtelContext() : unwrapContext(parent);
  w3c().inject(otel, carrier, defaultTextMapSetter);
}

/**
 * Reads `traceparent`/`tracestate` from `carrier` (header names are matched case-insensitively).
 * Without a valid traceparent the result is an empty context, so spans under it start a new trace.
 */
export function extractTraceContext(carrier: Readonly<Record<string, string | string[] | undefined>>): TraceContext {
  return wrapContext(w3c().extract(ROOT_CONTEXT, lowerCaseKeys(carrier), defaultTextMapGetter));
}

function lowerCaseKeys(
  carrier: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[] | undefined> {
  // Node lower-cases HTTP header names but message headers (NATS, Service Bus) keep their case.
  const out: Record<string, string | string[] | undefined> = {};
  for (const [key, value] of Object.entries(carrier)) out[key.toLowerCase()] = value;
  return out;
}

/** Ids of the span in `traceContext` (default: the active one), for logs and error bodies. */
export function currentTraceIds(traceContext?: TraceContext): TraceIds {
  const otel = traceContext === undefined ? activeOtelContext() : unwrapContext(traceContext);
  const spanContext = trace.getSpanContext(otel);
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}
