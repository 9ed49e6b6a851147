import { isBlobError, readJson, updateJson, type BlobStore } from "@retrain/blob";
import type { EventBus } from "@retrain/bus";
import { BlobRef, createEvent, EventTypes, parseEvent, RunPlan, RunTrigger, ulid, type CloudEvent } from "@retrain/contracts";
import type { Logger } from "@retrain/telemetry";
import { z } from "zod";
import { planFor, type StoredPipeline } from "./pipelines.js";

/** One run as ingestion records it under `ingestion/runs/<pipeline>/<runId>.json`. */
export const RunRecord = z.object({
  runId: z.string(),
  pipeline: z.string(),
  runSequence: z.number().int().nonnegative(),
  trigger: RunTrigger,
  dataset: BlobRef,
  /** Frozen when the run started: a later change of the pipeline does not touch it. */
  plan: RunPlan,
  createdAt: z.string(),
  /** The DataArrived event's id (deterministic from the run). */
  eventId: z.string(),
  traceparent: z.string().optional(),
  /** Set once by a cancel (who, when, why); the run is terminal from then on. */
  cancelled: z.object({ at: z.string(), by: z.string(), reason: z.string().optional() }).optional(),
  /** Targets whose promotion outcome (EndpointUpdated / PromotionFailed) ingestion has seen. */
  settled: z.array(z.string()).optional(),
  /** Set when ingestion learned the run ended (training failed, rejected, every target settled). */
  ended: z.object({ at: z.string(), outcome: z.string() }).optional(),
});
export type RunRecord = z.output<typeof RunRecord>;

/** A trigger that arrived while its pipeline was paused: recorded, started by the resume, in arrival order. */
export const HeldTrigger = z.object({
  triggerId: z.string(),
  /** The run id the trigger will start (its dataset blob is already named after it). */
  runId: z.string(),
  at: z.string(),
  dataset: BlobRef,
  trigger: RunTrigger,
  kind: z.enum(["new-data", "repeat"]),
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
});
export type HeldTrigger = z.output<typeof HeldTrigger>;

const RunEntry = z.object({ runId: z.string(), runSequence: z.number().int().nonnegative() });

/**
 * A pipeline's state, `ingestion/state/<pipeline>.json`: the run-sequence counter, the content index
 * (sha256 → run, the last {@link CONTENT_INDEX_KEPT} runs' content) that dedupes uploads, the latest dataset (for schedules and re-runs), the last
 * schedule tick taken, and the outbox of DataArrived events not yet published. One compare-and-set
 * of this document takes a sequence, records the dedupe entry and queues the event together.
 */
export const PipelineState = z.object({
  lastSequence: z.number().int().nonnegative(),
  bySha256: z.record(z.string(), RunEntry),
  latest: RunEntry.extend({ dataset: BlobRef }).optional(),
  lastScheduleTick: z.string().optional(),
  outbox: z.array(z.unknown()),
  /** Set while the pipeline is paused: triggers are held, not started. */
  paused: z.object({ at: z.string(), by: z.string() }).optional(),
  held: z.array(HeldTrigger).optional(),
});
export type PipelineState = z.output<typeof PipelineState>;

/** What starts a run. */
export interface StartRunInput {
  readonly pipeline: StoredPipeline;
  readonly runId: string;
  readonly dataset: BlobRef;
  readonly trigger: RunTrigger;
  /**
   * `new-data`: content-deduped (identical content → the existing run) and becomes the latest dataset.
   * `repeat`: a schedule tick or a re-run of a known dataset, always a new run.
   */
  readonly kind: "new-data" | "repeat";
  /** A schedule tick (minute, ISO): a tick already taken (by any replica) starts nothing. */
  readonly scheduleTick?: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** What {@link RunLedger.start} did. */
export type StartRunResult =
  | { readonly outcome: "started" | "deduplicated"; readonly runId: string; readonly runSequence: number }
  | { readonly outcome: "tick-taken" }
  /** The pipeline is paused: the trigger is recorded (`duplicate`: identical content was held already). */
  | { readonly outcome: "held"; readonly triggerId: string; readonly duplicate: boolean };

/** A run a resume started from a held trigger. */
export interface ResumedRun {
  readonly runId: string;
  readonly runSequence: number;
  readonly triggerId: string;
  readonly trigger: RunTrigger;
}

/** Options of {@link RunLedger}. */
export interface RunLedgerOptions {
  readonly store: BlobStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** CloudEvent source of DataArrived. */
  readonly source: string;
  /** Content hashes kept in a pipeline's dedupe index. Default {@link CONTENT_INDEX_KEPT}. */
  readonly contentIndexSize?: number;
}

const STATE_PREFIX = "ingestion/state/";

/**
 * Content hashes a pipeline's state keeps, newest runs first: identical content among the last this
 * many runs of new data is the same run; older content starts a new one. The state document is read
 * and rewritten on every run, so it must not grow with the pipeline's age (~100 bytes an entry).
 */
export const CONTENT_INDEX_KEPT = 1000;

/** `index` with `sha256 → entry` added, trimmed to the `kept` entries of the highest run sequences. */
function remember(index: PipelineState["bySha256"], sha256: string, entry: { runId: string; runSequence: number }, kept: number): PipelineState["bySha256"] {
  const next = { ...index, [sha256]: entry };
  const hashes = Object.keys(next);
  if (hashes.length <= kept) return next;
  hashes.sort((a, b) => (next[a]?.runSequence ?? 0) - (next[b]?.runSequence ?? 0));
  for (const old of hashes.slice(0, hashes.length - kept)) delete next[old];
  return next;
}

/** Runs' identity and their DataArrived events: sequences, dedupe, run records and the outbox relay. */
export class RunLedger {
  // Relays of one pipeline run one after another in this process, so concurrent requests do not
  // publish the same outbox entries twice (across replicas the deterministic ids dedupe instead).
  readonly #relaying = new Map<string, Promise<number>>();

  constructor(private readonly options: RunLedgerOptions) {}

  #state(pipeline: string): string {
    return `${STATE_PREFIX}${pipeline}.json`;
  }

  #record(pipeline: string, runId: string): string {
    return `ingestion/runs/${pipeline}/${runId}.json`;
  }

  async state(pipeline: string): Promise<PipelineState | undefined> {
    return (await readJson(this.options.store, this.#state(pipeline), (v) => PipelineState.parse(v)))?.value;
  }

  async run(pipeline: string, runId: string): Promise<RunRecord | undefined> {
    if (!/^[0-9A-Za-z]{1,64}$/.test(runId)) return undefined;
    return (await readJson(this.options.store, this.#record(pipeline, runId), (v) => RunRecord.parse(v)))?.value;
  }

  async list(pipeline: string): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for await (const blob of this.options.store.list(`ingestion/runs/${pipeline}/`)) {
      const value = (await readJson(this.options.store, blob.name, (v) => RunRecord.parse(v)))?.value;
      if (value !== undefined) out.push(value);
    }
    return out.sort((a, b) => a.runSequence - b.runSequence);
  }

  /** The run that already holds this content, if any. */
  async findBySha256(pipeline: string, sha256: string): Promise<{ runId: string; runSequence: number } | undefined> {
    return (await this.state(pipeline))?.bySha256[sha256];
  }

  /**
   * Starts a run: one compare-and-set of the pipeline state takes the next sequence, records the
   * content index entry and puts DataArrived in the outbox; then the run record is written and the
   * outbox relayed. A failed relay is logged, not thrown: the run is committed and is relayed later.
   */
  async start(input: StartRunInput): Promise<StartRunResult> {
    const name = input.pipeline.name;
    const sha256 = input.dataset.sha256;
    let result: StartRunResult | undefined;
    let event: CloudEvent<typeof EventTypes.DataArrived> | undefined;
    await updateJson(this.options.store, this.#state(name), (v) => PipelineState.parse(v), (current) => {
      const state: PipelineState = current ?? { lastSequence: 0, bySha256: {}, outbox: [] };
      const seen = input.kind === "new-data" && sha256 !== undefined ? state.bySha256[sha256] : undefined;
      if (seen !== undefined) {
        result = { outcome: "deduplicated", ...seen };
        return undefined;
      }
      if (input.scheduleTick !== undefined && state.lastScheduleTick !== undefined && state.lastScheduleTick >= input.scheduleTick) {
        result = { outcome: "tick-taken" };
        return undefined;
      }
      const tick = input.scheduleTick !== undefined ? { lastScheduleTick: input.scheduleTick } : {};
      if (state.paused !== undefined) {
        const held = state.held ?? [];
        // Identical content is one held trigger; so are schedule ticks (each would retrain the latest dataset).
        const same =
          input.kind === "new-data" && sha256 !== undefined
            ? held.find((h) => h.kind === "new-data" && h.dataset.sha256 === sha256)
            : input.scheduleTick !== undefined
              ? held.find((h) => h.trigger.kind === "schedule")
              : undefined;
        if (same !== undefined) {
          result = { outcome: "held", triggerId: same.triggerId, duplicate: true };
          return input.scheduleTick !== undefined ? { ...state, ...tick } : undefined;
        }
        const entry: HeldTrigger = {
          triggerId: ulid(),
          runId: input.runId,
          at: new Date().toISOString(),
          dataset: input.dataset,
          trigger: input.trigger,
          kind: input.kind,
          ...(input.traceparent !== undefined ? { traceparent: input.traceparent } : {}),
          ...(input.tracestate !== undefined ? { tracestate: input.tracestate } : {}),
        };
        result = { outcome: "held", triggerId: entry.triggerId, duplicate: false };
        return { ...state, ...tick, held: [...held, entry] };
      }
      const taken = this.#take(state, input.pipeline, input);
      event = taken.event;
      result = { outcome: "started", runId: input.runId, runSequence: taken.event.data.runSequence };
      return { ...taken.state, ...tick };
    });
    if (result === undefined) throw new Error("unreachable: the state update always decides");
    if (result.outcome === "started" && event !== undefined) {
      try {
        await this.#writeRecord(event);
        await this.relay(name);
      } catch (error) {
        this.options.logger.warn({ err: error, run_id: input.runId, pipeline: name }, "run committed; its DataArrived is relayed later");
      }
    }
    return result;
  }

  /** Takes the next sequence for a run and queues its DataArrived (a pure step of a state update). */
  #take(
    state: PipelineState,
    pipeline: StoredPipeline,
    input: Pick<StartRunInput, "runId" | "dataset" | "trigger" | "kind" | "traceparent" | "tracestate">,
  ): { state: PipelineState; event: CloudEvent<typeof EventTypes.DataArrived> } {
    const runSequence = state.lastSequence + 1;
    const sha256 = input.dataset.sha256;
    const event = createEvent(
      EventTypes.DataArrived,
      { runId: input.runId, pipeline: pipeline.name, runSequence, trigger: input.trigger, dataset: input.dataset, plan: planFor(pipeline, runSequence) },
      {
        source: this.options.source,
        ...(input.traceparent !== undefined ? { traceparent: input.traceparent } : {}),
        ...(input.tracestate !== undefined ? { tracestate: input.tracestate } : {}),
      },
    );
    const entry = { runId: input.runId, runSequence };
    return {
      event,
      state: {
        ...state,
        lastSequence: runSequence,
        bySha256: input.kind === "new-data" && sha256 !== undefined ? remember(state.bySha256, sha256, entry, this.options.contentIndexSize ?? CONTENT_INDEX_KEPT) : state.bySha256,
        ...(input.kind === "new-data" ? { latest: { ...entry, dataset: input.dataset } } : {}),
        outbox: [...state.outbox, JSON.parse(JSON.stringify(event)) as unknown],
      },
    };
  }

  /** Pauses a pipeline: triggers are held from now on. Idempotent (the first pause's time and author stand). */
  async pause(pipeline: string, by: string, now = new Date()): Promise<PipelineState> {
    const result = await updateJson(this.options.store, this.#state(pipeline), (v) => PipelineState.parse(v), (current) => {
      const state: PipelineState = current ?? { lastSequence: 0, bySha256: {}, outbox: [] };
      return state.paused !== undefined ? undefined : { ...state, paused: { at: now.toISOString(), by } };
    });
    if (result.value === undefined) throw new Error("unreachable: a pause always writes or finds the state");
    return result.value;
  }

  /**
   * Resumes a pipeline: in one write it is unpaused and every held trigger becomes a run, in arrival
   * order (content that meanwhile has a run is not started twice); then the runs are relayed.
   */
  async resume(pipeline: StoredPipeline): Promise<{ state: PipelineState | undefined; started: ResumedRun[] }> {
    let started: ResumedRun[] = [];
    const result = await updateJson(this.options.store, this.#state(pipeline.name), (v) => PipelineState.parse(v), (current) => {
      started = [];
      if (current === undefined || (current.paused === undefined && (current.held ?? []).length === 0)) return undefined;
      let state: PipelineState = { ...current };
      for (const held of current.held ?? []) {
        const sha256 = held.dataset.sha256;
        if (held.kind === "new-data" && sha256 !== undefined && state.bySha256[sha256] !== undefined) continue;
        const taken = this.#take(state, pipeline, {
          runId: held.runId,
          dataset: held.dataset,
          trigger: held.trigger,
          kind: held.kind,
          ...(held.traceparent !== undefined ? { traceparent: held.traceparent } : {}),
          ...(held.tracestate !== undefined ? { tracestate: held.tracestate } : {}),
        });
        state = taken.state;
        started.push({ runId: held.runId, runSequence: taken.event.data.runSequence, triggerId: held.triggerId, trigger: held.trigger });
      }
      const { paused: _paused, held: _held, ...rest } = state;
      return rest;
    });
    if (started.length > 0) {
      try {
        await this.relay(pipeline.name);
      } catch (error) {
        this.options.logger.warn({ err: error, pipeline: pipeline.name }, "resumed runs committed; their DataArrived is relayed later");
      }
    }
    return { state: result.value, started };
  }

  /** Applies `mutate` to a run's record by compare-and-set; undefined when the run has no record. */
  async updateRun(pipeline: string, runId: string, mutate: (current: RunRecord) => RunRecord | undefined): Promise<{ record: RunRecord | undefined; changed: boolean }> {
    if (!/^[0-9A-Za-z]{1,64}$/.test(runId)) return { record: undefined, changed: false };
    const result = await updateJson(this.options.store, this.#record(pipeline, runId), (v) => RunRecord.parse(v), (current) => (current === undefined ? undefined : mutate(current)));
    return { record: result.value, changed: result.changed };
  }

  /**
   * Publishes the DataArrived events in a pipeline's outbox (writing a run record that a crash left
   * unwritten first), then removes them. Safe to repeat: event ids are deterministic per run, so a
   * publish that happened before a crash is dropped by the broker's window and the consumers' inbox.
   */
  relay(pipeline: string): Promise<number> {
    const previous = this.#relaying.get(pipeline) ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.#relayOnce(pipeline));
    this.#relaying.set(pipeline, next);
    const forget = () => {
      if (this.#relaying.get(pipeline) === next) this.#relaying.delete(pipeline);
    };
    next.then(forget, forget);
    return next;
  }

  async #relayOnce(pipeline: string): Promise<number> {
    const state = await this.state(pipeline);
    if (state === undefined || state.outbox.length === 0) return 0;
    const sent = new Set<string>();
    for (const raw of state.outbox) {
      const event = parseEvent(raw);
      if (event.type === EventTypes.DataArrived) await this.#writeRecord(event);
      await this.options.bus.publish(event);
      sent.add(event.id);
    }
    await updateJson(this.options.store, this.#state(pipeline), (v) => PipelineState.parse(v), (current) => {
      if (current === undefined) return undefined;
      const rest = current.outbox.filter((e) => !(isEvent(e) && sent.has(e.id)));
      return rest.length === current.outbox.length ? undefined : { ...current, outbox: rest };
    });
    return sent.size;
  }

  /** Relays every pipeline's outbox (at start, and on each timer tick); failures are logged per pipeline. */
  async relayAll(): Promise<number> {
    let total = 0;
    for await (const blob of this.options.store.list(STATE_PREFIX)) {
      const pipeline = blob.name.slice(STATE_PREFIX.length).replace(/\.json$/, "");
      try {
        total += await this.relay(pipeline);
      } catch (error) {
        this.options.logger.error({ err: error, pipeline }, "relaying the outbox failed; retried on the next tick");
      }
    }
    return total;
  }

  async #writeRecord(event: CloudEvent<typeof EventTypes.DataArrived>): Promise<void> {
    const { runId, pipeline, runSequence, trigger, dataset, plan } = event.data;
    const record: RunRecord = {
      runId,
      pipeline,
      runSequence,
      trigger,
      dataset,
      plan,
      createdAt: event.time,
      eventId: event.id,
      ...(event.traceparent !== undefined ? { traceparent: event.traceparent } : {}),
    };
    try {
      await this.options.store.put(this.#record(pipeline, runId), JSON.stringify(record), { contentType: "application/json", ifNoneMatch: "*" });
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error; // already written: the record never changes
    }
  }
}

function isEvent(value: unknown): value is { id: string } {
  return typeof value === "object" && value !== null && "id" in value && typeof value.id === "string";
}
