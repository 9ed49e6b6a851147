import { z } from "zod";
import { catalog, isEventType, type EventData } from "./catalog.js";
import { EventValidationError } from "./errors.js";
import type { EventType } from "./events.js";
import { deterministicEventId } from "./ids.js";
import { targetKey, type EndpointTarget } from "./values.js";

// Events built by createEvent or returned by parseEvent have passed the catalog's schema; publishers
// skip a second validation for them. The mark is a non-enumerable symbol property: it never reaches
// JSON, and a spread copy (which may have been changed) does not inherit it. (A WeakSet did the same
// but made the garbage collector pay for every event.)
const VALIDATED = Symbol("retrain.validated");

/** True when `event` came from {@link createEvent} or {@link parseEvent} (already checked against the catalog). */
export function isValidatedEvent(event: object): boolean {
  return Object.prototype.hasOwnProperty.call(event, VALIDATED);
}

function markValidated<E extends object>(event: E): E {
  Object.defineProperty(event, VALIDATED, { value: true, enumerable: false });
  return event;
}

/** Largest encoded event accepted anywhere (Service Bus standard tier caps messages at 256 KiB). */
export const MAX_EVENT_BYTES = 256 * 1024;

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The CloudEvents 1.0 envelope (structured JSON) with Retrain's extensions; `data` is checked per type. */
export const CloudEventEnvelope = z.object({
  specversion: z.literal("1.0"),
  id: z.string().min(1).max(256),
  source: z.string().min(1).max(1024),
  type: z.string().min(1).max(256),
  time: z.iso.datetime({ offset: true }),
  subject: z.string().max(1024).optional(),
  datacontenttype: z.literal("application/json").optional(),
  dataschema: z.string().optional(),
  /** W3C trace context of the producer (CloudEvents distributed-tracing extension). */
  traceparent: z.string().regex(TRACEPARENT).optional(),
  tracestate: z.string().max(512).optional(),
  /** The run this event belongs to (Retrain extension). */
  runid: z.string().max(64).optional(),
  data: z.unknown(),
});

/** A Retrain event: the CloudEvents envelope with the typed data of `T`. */
export interface CloudEvent<T extends EventType = EventType> {
  readonly specversion: "1.0";
  readonly id: string;
  readonly source: string;
  readonly type: T;
  readonly time: string;
  readonly subject?: string;
  readonly datacontenttype?: "application/json";
  readonly dataschema?: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly runid?: string;
  readonly data: EventData<T>;
}

/** Any catalog event, discriminated by `type`. */
export type AnyEvent = { [T in EventType]: CloudEvent<T> }[EventType];

/** Options for {@link createEvent}. */
export interface CreateEventOptions {
  /** URI-reference of the producer, e.g. `/retrain/trainer`. */
  source: string;
  /** Default: deterministic from (run id, type, target) — see `deterministicEventId`. */
  id?: string;
  /** Default: now. */
  time?: Date;
  subject?: string;
  traceparent?: string;
  tracestate?: string;
}

function dataRunId(data: unknown): string | undefined {
  if (typeof data === "object" && data !== null && "runId" in data && typeof data.runId === "string") return data.runId;
  return undefined;
}

function dataTarget(data: unknown): EndpointTarget | undefined {
  if (typeof data === "object" && data !== null && "target" in data) return data.target as EndpointTarget;
  return undefined;
}

/** Builds a validated event of `type`; the data is checked against the catalog first. */
export function createEvent<T extends EventType>(type: T, data: EventData<T>, options: CreateEventOptions): CloudEvent<T> {
  const checked = checkData(type, data, options.id);
  const runId = dataRunId(checked);
  const target = catalog[type].perTarget ? dataTarget(checked) : undefined;
  const id =
    options.id ??
    (runId !== undefined ? deterministicEventId(runId, type, target ? targetKey(target) : "") : undefined);
  if (id === undefined) {
    throw new EventValidationError("SchemaInvalid", `${type}: no id given and the data has no runId to derive one`, {
      eventType: type,
      field: "id",
    });
  }
  return markValidated({
    specversion: "1.0",
    id,
    source: options.source,
    type,
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: "application/json",
    ...(options.subject !== undefined ? { subject: options.subject } : {}),
    ...(options.traceparent !== undefined ? { traceparent: options.traceparent } : {}),
    ...(options.tracestate !== undefined ? { tracestate: options.tracestate } : {}),
    ...(runId !== undefined ? { runid: runId } : {}),
    data: checked,
  });
}

function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: string): { field: string; lines: string[] } {
  const lines = issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    return `${path || "(root)"}: ${issue.message}`;
  });
  const first = issues[0];
  const field = first ? [prefix, ...first.path.map(String)].filter(Boolean).join(".") : prefix;
  return { field, lines };
}

function checkData<T extends EventType>(type: T, data: unknown, eventId?: string): EventData<T> {
  const result = catalog[type].schema.safeParse(data);
  if (!result.success) {
    const { field, lines } = describeIssues(result.error.issues, "data");
    throw new EventValidationError("SchemaInvalid", `${type}: ${lines[0] ?? "invalid data"}`, {
      field,
      eventType: type,
      issues: lines,
      ...(eventId !== undefined ? { eventId } : {}),
    });
  }
  return result.data as EventData<T>;
}

// One schema per event type (envelope + typed data), so a delivery is checked in a single pass.
const typedEnvelopes = new Map<EventType, z.ZodType>();
function typedEnvelope(type: EventType): z.ZodType {
  let schema = typedEnvelopes.get(type);
  if (schema === undefined) {
    schema = CloudEventEnvelope.extend({ type: z.literal(type), data: catalog[type].schema });
    typedEnvelopes.set(type, schema);
  }
  return schema;
}

/** Validates an already-decoded structured CloudEvent against the envelope and the catalog. */
export function parseEvent(raw: unknown): AnyEvent {
  const type = typeof raw === "object" && raw !== null && "type" in raw ? raw.type : undefined;
  if (typeof type === "string" && isEventType(type)) {
    const result = typedEnvelope(type).safeParse(raw);
    if (result.success) return markValidated(result.data as AnyEvent);
    const { field, lines } = describeIssues(result.error.issues, "");
    const id = typeof raw === "object" && raw !== null && "id" in raw && typeof raw.id === "string" ? raw.id : undefined;
    const where = field.startsWith("data") ? type : "CloudEvent envelope";
    throw new EventValidationError("SchemaInvalid", `${where}: ${lines[0] ?? "invalid"}`, {
      field,
      eventType: type,
      issues: lines,
      ...(id !== undefined ? { eventId: id } : {}),
    });
  }
  const envelope = CloudEventEnvelope.safeParse(raw);
  if (!envelope.success) {
    const { field, lines } = describeIssues(envelope.error.issues, "");
    const id = typeof raw === "object" && raw !== null && "id" in raw && typeof raw.id === "string" ? raw.id : undefined;
    throw new EventValidationError("SchemaInvalid", `CloudEvent envelope: ${lines[0] ?? "invalid"}`, {
      field,
      issues: lines,
      ...(id !== undefined ? { eventId: id } : {}),
    });
  }
  const { id } = envelope.data;
  throw new EventValidationError("UnknownEventType", `unknown event type "${envelope.data.type}"`, {
    field: "type",
    eventId: id,
    eventType: envelope.data.type,
  });
}

/** Decodes a structured-mode JSON CloudEvent from bytes and validates it. */
export function decodeEvent(bytes: Uint8Array | string): AnyEvent {
  const size = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_EVENT_BYTES) {
    throw new EventValidationError("EventTooLarge", `event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch (error) {
    throw new EventValidationError("MalformedJson", `event is not valid JSON: ${(error as Error).message}`, {}, { cause: error });
  }
  return parseEvent(raw);
}

/** Returns `event` with W3C trace context added (still validated: trace fields are checked here). */
export function withTraceContext<E extends CloudEvent>(event: E, traceparent: string, tracestate?: string): E {
  if (!TRACEPARENT.test(traceparent)) return event;
  const next = { ...event, traceparent, ...(tracestate ? { tracestate } : {}) };
  return isValidatedEvent(event) ? markValidated(next) : next;
}

/** Encodes an event as structured-mode JSON bytes, refusing one over {@link MAX_EVENT_BYTES}. */
export function encodeEvent(event: CloudEvent): Buffer {
  const bytes = Buffer.from(JSON.stringify(event), "utf8");
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    throw new EventValidationError("EventTooLarge", `event ${event.id} is ${bytes.byteLength} bytes; the limit is ${MAX_EVENT_BYTES}`, {
      eventId: event.id,
      eventType: event.type,
    });
  }
  return bytes;
}
