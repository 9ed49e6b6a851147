import { createHash } from "node:crypto";
import { isBlobError, readJson, updateJson, type BlobStore } from "@retrain/blob";
import { ChampionMetrics, EndpointTarget, EventTypes, Metrics, ModelRef, RunPlan, RunTrigger, targetKey, type AnyEvent } from "@retrain/contracts";
import { z } from "zod";

export const RUNS_PREFIX = "registry/runs/";
export const TARGETS_PREFIX = "registry/targets/";
/** One empty marker per run that is not terminal: what the reconciler walks instead of every run. */
export const OPEN_RUNS_PREFIX = "registry/open/";

/** A stage of a run's timeline. */
export const StageName = z.enum(["received", "trained", "failed", "approved", "rejected", "awaiting", "updated", "promotion-failed", "cancelled"]);
export type StageName = z.infer<typeof StageName>;

export const Stage = z.object({
  stage: StageName,
  at: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  /** Per-target stages only. */
  target: z.string().optional(),
  detail: z.string().optional(),
});
export type Stage = z.infer<typeof Stage>;

/** Where a run stands, as the list filters it. */
export const RunOutcome = z.enum(["running", "awaiting-approval", "approved", "failed", "rejected", "promoted", "promotion-failed", "cancelled"]);
export type RunOutcome = z.infer<typeof RunOutcome>;

export const EndpointUpdate = z.object({
  target: z.string(),
  outcome: z.enum(["updated", "failed"]),
  at: z.string(),
  modelId: z.string(),
  revision: z.number().optional(),
  kind: z.enum(["promotion", "rollback"]).optional(),
  code: z.string().optional(),
  reason: z.string().optional(),
});
export type EndpointUpdate = z.infer<typeof EndpointUpdate>;

/** The projection of one run (`registry/runs/<runId>.json`), checked when read. */
export const RunDocument = z.object({
  runId: z.string(),
  pipeline: z.string(),
  runSequence: z.number(),
  workspace: z.string().optional(),
  trigger: RunTrigger.optional(),
  dataset: z.object({ sha256: z.string().optional(), name: z.string(), size: z.number(), etag: z.string() }).optional(),
  targets: z.array(z.string()),
  job: z
    .object({
      jobId: z.string(),
      learner: z.string().optional(),
      rows: z.number().optional(),
      trainingRows: z.number().optional(),
      holdoutRows: z.number().optional(),
      seed: z.number().optional(),
      durationMs: z.number().optional(),
      datasetSha256: z.string().optional(),
    })
    .optional(),
  model: z.object({ modelId: z.string(), blob: z.string(), learner: z.string(), task: z.string() }).optional(),
  /** The whole model reference (what a rollback re-promotes). */
  modelRef: ModelRef.optional(),
  /** The run's frozen plan as its events carried it (a rollback takes the target from it). */
  plan: RunPlan.optional(),
  cancelled: z.object({ at: z.string(), by: z.string().optional(), reason: z.string().optional() }).optional(),
  evaluation: z.object({ challenger: Metrics, champions: z.array(ChampionMetrics), reason: z.string() }).optional(),
  approval: z
    .object({ decision: z.enum(["approved", "rejected", "awaiting"]), kind: z.string().optional(), by: z.string().optional(), reason: z.string(), at: z.string() })
    .optional(),
  updates: z.array(EndpointUpdate),
  stages: z.array(Stage),
  /** Ids of the events applied (the inbox): a duplicate changes nothing. */
  inbox: z.array(z.string()),
});
export type RunDocument = z.infer<typeof RunDocument>;

/** One change of what a target serves. */
export const PromotionEntry = z.object({
  revision: z.number(),
  modelId: z.string(),
  runId: z.string(),
  runSequence: z.number(),
  kind: z.enum(["promotion", "rollback"]),
  at: z.string(),
  eventId: z.string(),
});
export type PromotionEntry = z.infer<typeof PromotionEntry>;

/** The promotion history of one target (`registry/targets/<sha256 of targetKey>.json`), checked when read. */
export const TargetDocument = z.object({
  target: z.string(),
  workspace: z.string().optional(),
  /** The target itself, as the latest EndpointUpdated named it (a rollback sends it to the promoters). */
  endpoint: EndpointTarget.optional(),
  history: z.array(PromotionEntry),
});
export type TargetDocument = z.infer<typeof TargetDocument>;

const asRun = (value: unknown): RunDocument => RunDocument.parse(value);
const asTarget = (value: unknown): TargetDocument => TargetDocument.parse(value);

export function runBlobName(runId: string): string {
  return `${RUNS_PREFIX}${encodeURIComponent(runId)}.json`;
}

/** The open-run marker of a run. */
export function openRunBlobName(runId: string): string {
  return `${OPEN_RUNS_PREFIX}${encodeURIComponent(runId)}`;
}

export function targetBlobName(key: string): string {
  return `${TARGETS_PREFIX}${createHash("sha256").update(key).digest("hex")}.json`;
}

function workspaceOfTarget(target: EndpointTarget): string | undefined {
  return target.kind === "classic" ? target.workspace : undefined;
}

function applyPlan(doc: RunDocument, plan: RunPlan): void {
  doc.workspace ??= plan.trainingWebService.workspace;
  if (doc.targets.length === 0) doc.targets = plan.targets.map(targetKey);
  doc.plan ??= plan;
}

/** Applies one event to a run document (a fresh copy); `undefined` when it was applied already. */
export function applyToRun(current: RunDocument | undefined, event: AnyEvent): RunDocument | undefined {
  if (current?.inbox.includes(event.id)) return undefined;
  const data = event.data;
  if (!("runId" in data) || data.runId === undefined) return undefined;
  const doc: RunDocument = current ?? { runId: data.runId, pipeline: "", runSequence: 0, targets: [], updates: [], stages: [], inbox: [] };
  if ("pipeline" in data && data.pipeline !== undefined) doc.pipeline = data.pipeline;
  if ("runSequence" in data && typeof data.runSequence === "number") doc.runSequence = data.runSequence;
  const base = { at: new Date(event.time).toISOString(), eventId: event.id, eventType: event.type };
  switch (event.type) {
    case EventTypes.DataArrived: {
      const d = event.data;
      applyPlan(doc, d.plan);
      doc.trigger = d.trigger;
      doc.dataset = { name: d.dataset.name, size: d.dataset.size, etag: d.dataset.etag, ...(d.dataset.sha256 !== undefined ? { sha256: d.dataset.sha256 } : {}) };
      doc.stages.push({ ...base, stage: "received" });
      break;
    }
    case EventTypes.TrainingFailed: {
      const d = event.data;
      if (d.jobId !== undefined) doc.job = { ...doc.job, jobId: d.jobId };
      doc.stages.push({ ...base, stage: "failed", detail: `${d.code}: ${d.reason}` });
      break;
    }
    case EventTypes.ModelTrained: {
      const d = event.data;
      applyPlan(doc, d.plan);
      const l = d.lineage;
      doc.job = { jobId: d.jobId, learner: l.learner, rows: l.rows, trainingRows: l.trainingRows, holdoutRows: l.holdoutRows, seed: l.seed, durationMs: l.durationMs, datasetSha256: l.datasetSha256 };
      doc.model = { modelId: d.model.modelId, blob: d.model.blob.name, learner: d.model.learner, task: d.model.task };
      doc.modelRef = d.model;
      doc.evaluation = { challenger: d.metrics, champions: doc.evaluation?.champions ?? [], reason: doc.evaluation?.reason ?? "" };
      doc.stages.push({ ...base, stage: "trained" });
      break;
    }
    case EventTypes.ModelApproved:
    case EventTypes.ModelRejected:
    case EventTypes.ModelAwaitingApproval: {
      const d = event.data;
      applyPlan(doc, d.plan);
      doc.model ??= { modelId: d.model.modelId, blob: d.model.blob.name, learner: d.model.learner, task: d.model.task };
      doc.modelRef ??= d.model;
      // A rollback is a run of its own that starts with its approval: what started it is the rollback.
      if (event.type === EventTypes.ModelApproved && event.data.kind === "rollback") {
        doc.trigger ??= { kind: "rollback", ...(event.data.approvedBy !== undefined ? { by: event.data.approvedBy } : {}) };
      }
      doc.evaluation = { challenger: d.challenger, champions: d.champions, reason: d.reason };
      const decision = event.type === EventTypes.ModelApproved ? "approved" : event.type === EventTypes.ModelRejected ? "rejected" : "awaiting";
      const by = event.type === EventTypes.ModelApproved ? event.data.approvedBy : event.type === EventTypes.ModelRejected ? event.data.rejectedBy : undefined;
      doc.approval = {
        decision,
        reason: d.reason,
        at: base.at,
        ...(event.type === EventTypes.ModelApproved ? { kind: event.data.kind } : {}),
        ...(by !== undefined ? { by } : {}),
      };
      doc.stages.push({ ...base, stage: decision, detail: d.reason });
      break;
    }
    case EventTypes.EndpointUpdated: {
      const d = event.data;
      const target = targetKey(d.target);
      doc.updates.push({ target, outcome: "updated", at: d.updatedAt, modelId: d.model.modelId, revision: d.revision, kind: d.kind });
      doc.stages.push({ ...base, stage: "updated", target, detail: `revision ${d.revision} (${d.kind})` });
      break;
    }
    case EventTypes.PromotionFailed: {
      const d = event.data;
      const target = targetKey(d.target);
      doc.updates.push({ target, outcome: "failed", at: base.at, modelId: d.model.modelId, code: d.code, reason: d.reason });
      doc.stages.push({ ...base, stage: "promotion-failed", target, detail: `${d.code}: ${d.reason}` });
      break;
    }
    case EventTypes.RunCancelled: {
      const d = event.data;
      applyPlan(doc, d.plan);
      doc.cancelled = { at: base.at, ...(d.cancelledBy !== undefined ? { by: d.cancelledBy } : {}), ...(d.reason !== undefined ? { reason: d.reason } : {}) };
      doc.stages.push({ ...base, stage: "cancelled", ...(d.reason !== undefined || d.cancelledBy !== undefined ? { detail: [d.cancelledBy, d.reason].filter(Boolean).join(": ") } : {}) });
      break;
    }
    default:
      return undefined;
  }
  doc.stages.sort((a, b) => a.at.localeCompare(b.at));
  doc.inbox.push(event.id);
  return doc;
}

/** Where a run stands, and whether it is over. */
export function runOutcome(doc: RunDocument): { outcome: RunOutcome; terminal: boolean } {
  const uncancelled = outcomeOfEvents(doc);
  const cancelled = doc.cancelled;
  if (cancelled === undefined) return uncancelled;
  // A cancel ends the run whatever comes after it (the cancelled job's TrainingFailed, a straggler),
  // except what it could not undo: targets that were updated, or an end that came before it.
  if (uncancelled.outcome === "promoted" || uncancelled.outcome === "promotion-failed") return uncancelled;
  const endedBefore = doc.stages.some((s) => (s.stage === "failed" || s.stage === "rejected") && s.at < cancelled.at);
  return endedBefore ? uncancelled : { outcome: "cancelled", terminal: true };
}

function outcomeOfEvents(doc: RunDocument): { outcome: RunOutcome; terminal: boolean } {
  if (doc.stages.some((s) => s.stage === "failed")) return { outcome: "failed", terminal: true };
  const decision = doc.approval?.decision;
  if (decision === "rejected") return { outcome: "rejected", terminal: true };
  if (decision === "awaiting") return { outcome: "awaiting-approval", terminal: false };
  if (decision === "approved") {
    const settled = new Map(doc.updates.map((u) => [u.target, u.outcome]));
    const all = doc.targets.length > 0 && doc.targets.every((t) => settled.has(t));
    if (!all) return { outcome: "approved", terminal: false };
    return { outcome: [...settled.values()].every((o) => o === "updated") ? "promoted" : "promotion-failed", terminal: true };
  }
  return { outcome: "running", terminal: false };
}

/** Applies an EndpointUpdated to a target's history; `undefined` when it was applied already. */
export function applyToTarget(current: TargetDocument | undefined, event: AnyEvent): TargetDocument | undefined {
  if (event.type !== EventTypes.EndpointUpdated) return undefined;
  if (current?.history.some((h) => h.eventId === event.id)) return undefined;
  const d = event.data;
  const key = targetKey(d.target);
  const workspace = workspaceOfTarget(d.target);
  const doc: TargetDocument = current ?? { target: key, history: [], ...(workspace !== undefined ? { workspace } : {}) };
  doc.endpoint = d.target;
  doc.history.push({
    revision: d.revision,
    modelId: d.model.modelId,
    runId: d.runId,
    runSequence: d.runSequence,
    kind: d.kind,
    at: new Date(d.updatedAt).toISOString(),
    eventId: event.id,
  });
  doc.history.sort((a, b) => a.revision - b.revision || a.at.localeCompare(b.at));
  return doc;
}

/** The projections in the store: applied with compare-and-set, read back for queries. */
export class Projections {
  constructor(private readonly store: BlobStore) {}

  /** Applies one event to every projection it touches; true when something changed. */
  async apply(event: AnyEvent): Promise<boolean> {
    let changed = false;
    if (event.runid !== undefined || "runId" in event.data) {
      const runId = "runId" in event.data ? event.data.runId : event.runid;
      if (runId !== undefined) {
        const result = await updateJson(this.store, runBlobName(runId), asRun, (current) => applyToRun(current, event));
        changed ||= result.changed;
        // Also when nothing changed: a redelivered event repairs a marker a crash left unwritten.
        if (result.value !== undefined) await this.#markOpen(runId, !runOutcome(result.value).terminal);
      }
    }
    if (event.type === EventTypes.EndpointUpdated) {
      const result = await updateJson(this.store, targetBlobName(targetKey(event.data.target)), asTarget, (current) => applyToTarget(current, event));
      changed ||= result.changed;
    }
    return changed;
  }

  async run(runId: string): Promise<RunDocument | undefined> {
    return (await readJson(this.store, runBlobName(runId), asRun))?.value;
  }

  async target(key: string): Promise<TargetDocument | undefined> {
    return (await readJson(this.store, targetBlobName(key), asTarget))?.value;
  }

  async *runs(): AsyncIterable<RunDocument> {
    for await (const props of this.store.list(RUNS_PREFIX)) {
      const doc = await readJson(this.store, props.name, asRun);
      if (doc !== undefined) yield doc.value;
    }
  }

  /**
   * The runs not terminal yet, from their markers: what the reconciler looks at every pass, so a pass
   * costs the number of open runs, not of every run ever made. A marker whose run ended or is gone is
   * removed on the way.
   */
  async *openRuns(): AsyncIterable<RunDocument> {
    for await (const props of this.store.list(OPEN_RUNS_PREFIX)) {
      const runId = decodeURIComponent(props.name.slice(OPEN_RUNS_PREFIX.length));
      const doc = await this.run(runId);
      if (doc !== undefined && !runOutcome(doc).terminal) yield doc;
      else await this.store.delete(props.name, { ifMatch: props.etag }).catch((error: unknown) => {
        if (!isBlobError(error, "Conflict")) throw error;
      });
    }
  }

  /** Writes the open-run markers of every run from the run documents (after an upgrade, or to repair the index). */
  async reindexOpenRuns(): Promise<number> {
    let open = 0;
    for await (const doc of this.runs()) {
      const isOpen = !runOutcome(doc).terminal;
      await this.#markOpen(doc.runId, isOpen);
      if (isOpen) open++;
    }
    return open;
  }

  async #markOpen(runId: string, open: boolean): Promise<void> {
    const name = openRunBlobName(runId);
    if (!open) {
      await this.store.delete(name);
      return;
    }
    try {
      await this.store.put(name, "", { ifNoneMatch: "*" });
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error;
    }
  }

  async *targets(): AsyncIterable<TargetDocument> {
    for await (const props of this.store.list(TARGETS_PREFIX)) {
      const doc = await readJson(this.store, props.name, asTarget);
      if (doc !== undefined) yield doc.value;
    }
  }

  /** Deletes every projection document. */
  async clear(): Promise<number> {
    let deleted = 0;
    for (const prefix of [RUNS_PREFIX, TARGETS_PREFIX, OPEN_RUNS_PREFIX]) {
      const names: string[] = [];
      for await (const props of this.store.list(prefix)) names.push(props.name);
      for (const name of names) if (await this.store.delete(name)) deleted++;
    }
    return deleted;
  }
}
