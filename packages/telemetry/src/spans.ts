import type { Context, Span } from "@opentelemetry/api";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { TraceContext } from "./trace-context.js";
import { activeOtelContext, runInOtelContext, unwrapContext, wrapContext } from "./trace-context.js";

/** The instrumentation scope every span of this repo is recorded under. */
const TRACER_NAME = "@retrain/telemetry";

/** What a span represents, as OTel span kinds (lower-case names instead of the OTel enum). */
export type SpanKindName = "internal" | "server" | "client" | "producer" | "consumer";

/** Attribute values a span accepts. */
export type SpanAttributeValue = string | number | boolean;

/** A set of span attributes. */
export type SpanAttributes = Record<string, SpanAttributeValue>;

/** Options for {@link withSpan}. */
export interface SpanOptions {
  /** Span kind. Default "internal". */
  kind?: SpanKindName;
  /** Attributes set when the span starts (visible to samplers). Default none. */
  attributes?: SpanAttributes;
  /** Parent position. Default: the active context (the enclosing span, if any). */
  parent?: TraceContext;
}

/** The running span as handed to a {@link withSpan} callback: our own small surface, not OTel's Span. */
export interface SpanHandle {
  /** Trace id (32 hex chars); all zeros when tracing is off and there was no incoming parent. */
  readonly traceId: string;
  /** Span id (16 hex chars). */
  readonly spanId: string;
  /** The position of this span, to parent work that runs outside the callback. */
  readonly traceContext: TraceContext;
  /** Sets one attribute. */
  setAttribute(key: string, value: SpanAttributeValue): void;
  /** Sets several attributes. */
  setAttributes(attributes: SpanAttributes): void;
  /** Records a timestamped event on the span. */
  addEvent(name: string, attributes?: SpanAttributes): void;
  /** Marks the span failed without throwing (e.g. a handled failure such as a 5xx answer). */
  setError(message: string): void;
  /** Renames the span, for names only known at the end (e.g. the matched HTTP route). */
  updateName(name: string): void;
}

const kinds: Record<SpanKindName, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

class Handle implements SpanHandle {
  constructor(
    private readonly span: Span,
    readonly traceContext: TraceContext,
  ) {}
  get traceId(): string {
    return this.span.spanContext().traceId;
  }
  get spanId(): string {
    return this.span.spanContext().spanId;
  }
  setAttribute(key: string, value: SpanAttributeValue): void {
    this.span.setAttribute(key, value);
  }
  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }
  addEvent(name: string, attributes?: SpanAttributes): void {
    this.span.addEvent(name, attributes);
  }
  setError(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  updateName(name: string): void {
    this.span.updateName(name);
  }
}

/**
 * Runs `fn` inside a new span: spans started within become its children, log lines carry its ids.
 * A throw is recorded as an `exception` event with error status and rethrown; the span always ends.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: SpanHandle) => Promise<T> | T,
): Promise<T> {
  const { span, spanContext } = openSpan(name, options);
  try {
    return await runInOtelContext(spanContext, () => fn(new Handle(span, wrapContext(spanContext))));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** A span started by {@link startSpan}: the caller ends it. */
export interface StartedSpan extends SpanHandle {
  /** Records `error` (when given) as an exception with error status, then ends the span. */
  end(error?: unknown): void;
}

/**
 * Starts a span without making it the active one: for short steps on hot paths (a publish) where
 * only its trace context is needed, e.g. to inject into headers. Activating a context costs an
 * AsyncLocalStorage scope per call; {@link withSpan} is the choice whenever other work nests inside.
 */
export function startSpan(name: string, options: SpanOptions): StartedSpan {
  const { span, spanContext } = openSpan(name, options);
  const handle = new Handle(span, wrapContext(spanContext));
  return Object.assign(handle, {
    end(error?: unknown) {
      if (error !== undefined) recordFailure(span, error);
      span.end();
    },
  });
}

function openSpan(name: string, options: SpanOptions): { span: Span; spanContext: Context } {
  // Looked up per call, not cached: a later setupTelemetry replaces the global provider.
  const tracer = trace.getTracer(TRACER_NAME);
  const parent = options.parent === undefined ? activeOtelContext() : unwrapContext(options.parent);
  const span = tracer.startSpan(
    name,
    { kind: kinds[options.kind ?? "internal"], ...(options.attributes && { attributes: options.attributes }) },
    parent,
  );
  return { span, spanContext: trace.setSpan(parent, span) };
}

/** Starts a messaging span (named and attributed as {@link messagingSpan}) without activating it. */
export function startMessagingSpan(options: MessagingSpanOptions): StartedSpan {
  const { name, kind, attributes } = messagingSpanAttributes(options);
  return startSpan(name, { kind, attributes, ...(options.parent && { parent: options.parent }) });
}

function recordFailure(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    const message = String(error);
    span.recordException(message);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
}

/** A messaging step, per the OTel messaging semantic conventions. */
export type MessagingOperation = "publish" | "process" | "receive" | "settle";

/** Options for {@link messagingSpan}. */
export interface MessagingSpanOptions {
  /** The step being traced; decides the span kind (publish → producer, process → consumer, else client). */
  operation: MessagingOperation;
  /** `messaging.system`: "nats", "servicebus" or "memory". */
  system: string;
  /** `messaging.destination.name`: subject, queue or topic. */
  destination: string;
  /** `messaging.message.id`: the event id. */
  messageId: string;
  /** `messaging.operation.name`: the system's own verb (e.g. "ack", "complete"). Default: `operation`. */
  operationName?: string;
  /** `retrain.run_id`, when the message belongs to a retraining run. Default unset. */
  runId?: string;
  /** Parent position: for "process", the context extracted from the message headers. Default: active. */
  parent?: TraceContext;
  /** Further attributes (e.g. `messaging.message.conversation_id`). Default none. */
  attributes?: SpanAttributes;
}

// Messaging attributes are still "incubating" in @opentelemetry/semantic-conventions, whose
// guidance is to copy them rather than import the unstable entry point.
const ATTR_RETRAIN_RUN_ID = "retrain.run_id";

const operationTypes: Record<MessagingOperation, { type: string; kind: SpanKindName }> = {
  // Current semconv spells the producing operation type "send" ("publish" is deprecated).
  publish: { type: "send", kind: "producer" },
  process: { type: "process", kind: "consumer" },
  receive: { type: "receive", kind: "client" },
  settle: { type: "settle", kind: "client" },
};

/** Span name, kind and attributes for a messaging step, per semconv. */
function messagingSpanAttributes(options: MessagingSpanOptions): {
  name: string;
  kind: SpanKindName;
  attributes: SpanAttributes;
} {
  const { type, kind } = operationTypes[options.operation];
  // Literal keys, extras copied after: a spread followed by computed keys sends V8 down its slow
  // object-building path, and this runs twice per message.
  const attributes: SpanAttributes = {
    "messaging.system": options.system,
    "messaging.destination.name": options.destination,
    "messaging.message.id": options.messageId,
    "messaging.operation.type": type,
    "messaging.operation.name": options.operationName ?? options.operation,
  };
  const extra = options.attributes;
  if (extra !== undefined) {
    for (const key in extra) {
      const value = extra[key];
      if (value !== undefined && !(key in attributes)) attributes[key] = value;
    }
  }
  if (options.runId !== undefined) attributes[ATTR_RETRAIN_RUN_ID] = options.runId;
  return { name: `${options.operation} ${options.destination}`, kind, attributes };
}

/** Runs `fn` in a messaging span named `"<operation> <destination>"` (see {@link withSpan}). */
export function messagingSpan<T>(
  options: MessagingSpanOptions,
  fn: (span: SpanHandle) => Promise<T> | T,
): Promise<T> {
  const { name, kind, attributes } = messagingSpanAttributes(options);
  return withSpan(name, { kind, attributes, ...(options.parent && { parent: options.parent }) }, fn);
}

/**
 * Marks the active span (when there is one) failed with `message`, and sets `attributes` on it: for
 * an outcome decided inside work someone else traces (a run rejected while its event is processed).
 */
export function failActiveSpan(message: string, attributes?: SpanAttributes): void {
  const span = trace.getSpan(activeOtelContext());
  if (span === undefined) return;
  if (attributes !== undefined) span.setAttributes(attributes);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
