import {
  createEvent,
  DatasetAvailable,
  decodeEvent,
  deterministicEventId,
  encodeEvent,
  EventTypes,
  EventValidationError,
  eventTypes,
  exampleData,
  MAX_EVENT_BYTES,
  parseEvent,
  randomEventId,
  targetKey,
  ulid,
  type EventData,
} from "./index.js";

const source = "/retrain/test";

describe("the event catalog", () => {
  it.each(eventTypes)("%s: the example round-trips through encode/decode", (type) => {
    const runId = (exampleData(type) as { runId?: string }).runId;
    // An event without a run (the upstream-facing DatasetAvailable) needs an id from its sender.
    const event = createEvent(type, exampleData(type), { source, ...(runId === undefined ? { id: randomEventId() } : {}) });
    const decoded = decodeEvent(encodeEvent(event));
    expect(decoded).toEqual(event);
    expect(decoded.runid).toBe(runId);
  });

  it("accepts a DatasetAvailable naming a URL or a store blob, and refuses one naming both or neither", () => {
    const ok = (dataset: unknown) => DatasetAvailable.safeParse({ pipeline: "p", dataset }).success;
    expect(ok({ url: "https://a.blob.core.windows.net/c/x.csv" })).toBe(true);
    expect(ok({ blobName: "uploads/x.csv" })).toBe(true);
    expect(ok({ url: "https://a.blob.core.windows.net/c/x.csv", blobName: "x" })).toBe(false);
    expect(ok({})).toBe(false);
    expect(ok({ url: "file:///etc/passwd" })).toBe(false);
  });

  it("derives the same id for the same (run, type, target) and different ids otherwise", () => {
    const data = exampleData(EventTypes.EndpointUpdated);
    const a = createEvent(EventTypes.EndpointUpdated, data, { source });
    const b = createEvent(EventTypes.EndpointUpdated, data, { source, time: new Date(0) });
    expect(a.id).toBe(b.id);
    expect(a.id).toBe(deterministicEventId(data.runId, EventTypes.EndpointUpdated, targetKey(data.target)));
    const other: EventData<typeof EventTypes.EndpointUpdated> = {
      ...data,
      target: { ...data.target, kind: "classic", workspace: "ws", webService: "w", endpoint: "other", resourceName: "r" },
    };
    expect(createEvent(EventTypes.EndpointUpdated, other, { source }).id).not.toBe(a.id);
    const failed = createEvent(EventTypes.PromotionFailed, exampleData(EventTypes.PromotionFailed), { source });
    expect(failed.id).not.toBe(a.id);
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("names the offending field of invalid data", () => {
    const data = structuredClone(exampleData(EventTypes.DataArrived)) as unknown as { dataset: { etag: unknown } };
    data.dataset.etag = 42;
    const raw = { ...createEvent(EventTypes.DataArrived, exampleData(EventTypes.DataArrived), { source }), data };
    let error: unknown;
    try {
      parseEvent(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EventValidationError);
    const e = error as EventValidationError;
    expect(e.code).toBe("SchemaInvalid");
    expect(e.field).toBe("data.dataset.etag");
    expect(e.context.eventId).toBe(raw.id);
    expect(e.message).toContain("data.dataset.etag");
  });

  it("refuses an invalid envelope, an unknown type, malformed JSON and an oversize event with typed codes", () => {
    const good = createEvent(EventTypes.TrainingFailed, exampleData(EventTypes.TrainingFailed), { source });
    expect(() => parseEvent({ ...good, specversion: "0.3" })).toThrow(
      expect.objectContaining({ code: "SchemaInvalid", context: expect.objectContaining({ field: "specversion" }) }),
    );
    expect(() => parseEvent({ ...good, type: "retrain.model.promoted-by-hand.v1" })).toThrow(
      expect.objectContaining({ code: "UnknownEventType" }),
    );
    expect(() => decodeEvent("{not json")).toThrow(expect.objectContaining({ code: "MalformedJson" }));
    expect(() => decodeEvent("x".repeat(MAX_EVENT_BYTES + 1))).toThrow(expect.objectContaining({ code: "EventTooLarge" }));
    const huge = { ...exampleData(EventTypes.TrainingFailed), reason: "r".repeat(MAX_EVENT_BYTES) };
    expect(() => encodeEvent(createEvent(EventTypes.TrainingFailed, huge, { source }))).toThrow(
      expect.objectContaining({ code: "EventTooLarge" }),
    );
  });

  it("refuses to create an event whose data is invalid", () => {
    const bad = { ...exampleData(EventTypes.ModelTrained), jobId: "" };
    expect(() => createEvent(EventTypes.ModelTrained, bad, { source })).toThrow(
      expect.objectContaining({ code: "SchemaInvalid", context: expect.objectContaining({ field: "data.jobId" }) }),
    );
  });

  it("makes ULIDs that sort by time", () => {
    const a = ulid(1_000);
    const b = ulid(2_000);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });
});
