import { BlobConflictError, isBlobError, readJson, updateJson, type BlobProperties, type BlobStore, type JsonDocument, type UpdateJsonResult } from "@retrain/blob";
import {
  AuditEntry,
  parseOperation,
  parseTarget,
  parseWebService,
  type OperationDoc,
  type TargetDoc,
  type WebServiceDoc,
} from "./documents.js";

/** The blob prefix the scoring host owns; no other service reads under it. */
export const SCORING_PREFIX = "scoring";

/** Prefix of every target document (classic endpoints and new web services): what replicas poll. */
export const TARGETS_PREFIX = `${SCORING_PREFIX}/targets/`;

/**
 * The scoring host's documents in the blob store:
 * - `scoring/classic/<ws>/<webServiceId>.json` — a classic web service
 * - `scoring/targets/classic/<ws>/<webServiceId>/<endpoint>.json` — a classic endpoint
 * - `scoring/targets/new/<sub>/<rg>/<name>.json` — a new (ARM) web service (names lowercased: ARM is case-insensitive)
 * - `scoring/models/<sha256>.ilearner` — the own copies of served models (content-addressed, shared)
 * - `scoring/audit/<targetId>/<revision>.json` — the audit log, one immutable entry per model change
 * - `scoring/operations/<id>.json` — ARM async operations
 */
export class ScoringStore {
  constructor(readonly blobs: BlobStore) {}

  webServiceBlob(workspace: string, id: string): string {
    return `${SCORING_PREFIX}/classic/${workspace}/${id}.json`;
  }

  classicTargetBlob(workspace: string, webServiceId: string, endpoint: string): string {
    return `${TARGETS_PREFIX}classic/${workspace}/${webServiceId}/${endpoint}.json`;
  }

  classicTargetsPrefix(workspace: string, webServiceId: string): string {
    return `${TARGETS_PREFIX}classic/${workspace}/${webServiceId}/`;
  }

  armTargetBlob(subscription: string, resourceGroup: string, name: string): string {
    return `${TARGETS_PREFIX}new/${subscription.toLowerCase()}/${resourceGroup.toLowerCase()}/${name.toLowerCase()}.json`;
  }

  armTargetsPrefix(subscription: string, resourceGroup?: string): string {
    return `${TARGETS_PREFIX}new/${subscription.toLowerCase()}/${resourceGroup === undefined ? "" : `${resourceGroup.toLowerCase()}/`}`;
  }

  modelBlob(sha256: string): string {
    return `${SCORING_PREFIX}/models/${sha256}.ilearner`;
  }

  auditBlob(targetId: string, revision: number): string {
    return `${SCORING_PREFIX}/audit/${targetId}/${String(revision).padStart(10, "0")}.json`;
  }

  operationBlob(id: string): string {
    return `${SCORING_PREFIX}/operations/${id}.json`;
  }

  // --- classic web services

  async getWebService(workspace: string, id: string): Promise<WebServiceDoc | undefined> {
    return (await readJson(this.blobs, this.webServiceBlob(workspace, id), parseWebService))?.value;
  }

  /** Creates a web service document; false when one with this id exists. */
  async createWebService(doc: WebServiceDoc): Promise<boolean> {
    return this.#create(this.webServiceBlob(doc.workspace, doc.id), doc);
  }

  async listWebServices(workspace: string): Promise<WebServiceDoc[]> {
    const out: WebServiceDoc[] = [];
    for await (const blob of this.blobs.list(`${SCORING_PREFIX}/classic/${workspace}/`)) {
      if (!blob.name.endsWith(".json")) continue;
      const doc = (await readJson(this.blobs, blob.name, parseWebService))?.value;
      if (doc !== undefined) out.push(doc);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async deleteWebService(workspace: string, id: string): Promise<boolean> {
    return this.blobs.delete(this.webServiceBlob(workspace, id));
  }

  // --- targets

  async getTarget(name: string): Promise<JsonDocument<TargetDoc> | undefined> {
    return readJson(this.blobs, name, parseTarget);
  }

  /** Creates a target document; false when it exists already. */
  async createTarget(name: string, doc: TargetDoc): Promise<boolean> {
    return this.#create(name, doc);
  }

  /** Compare-and-set on a target (see updateJson); `mutate` returning undefined writes nothing. */
  async updateTarget(name: string, mutate: (current: TargetDoc | undefined) => TargetDoc | undefined): Promise<UpdateJsonResult<TargetDoc>> {
    return updateJson(this.blobs, name, parseTarget, (current) => {
      const next = mutate(current);
      return next === undefined ? undefined : { ...next, generation: (current?.generation ?? 0) + 1 };
    });
  }

  async deleteTarget(name: string): Promise<boolean> {
    return this.blobs.delete(name);
  }

  /** Target blobs (name and etag) under a prefix of {@link TARGETS_PREFIX}. */
  async listTargetBlobs(prefix: string = TARGETS_PREFIX): Promise<BlobProperties[]> {
    const out: BlobProperties[] = [];
    for await (const blob of this.blobs.list(prefix)) if (blob.name.endsWith(".json")) out.push(blob);
    return out;
  }

  async listTargets(prefix: string): Promise<Array<{ name: string; doc: TargetDoc }>> {
    const out: Array<{ name: string; doc: TargetDoc }> = [];
    for (const blob of await this.listTargetBlobs(prefix)) {
      const found = await this.getTarget(blob.name);
      if (found !== undefined) out.push({ name: blob.name, doc: found.value });
    }
    return out;
  }

  // --- model copies

  /** Stores a model copy under its content hash (a second copy of the same bytes is a no-op). */
  async putModel(sha256: string, bytes: Buffer): Promise<string> {
    const name = this.modelBlob(sha256);
    try {
      await this.blobs.put(name, bytes, { ifNoneMatch: "*", contentType: "application/octet-stream" });
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error;
    }
    return name;
  }

  async readModel(name: string): Promise<Buffer> {
    return (await this.blobs.getBuffer(name)).body;
  }

  // --- audit log

  /** Writes an audit entry; its name is its revision, so writing it again is harmless. */
  async writeAudit(entry: AuditEntry): Promise<void> {
    await this.blobs.put(this.auditBlob(entry.targetId, entry.revision), JSON.stringify(entry), { contentType: "application/json" });
  }

  async listAudit(targetId: string): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const blob of this.blobs.list(`${SCORING_PREFIX}/audit/${targetId}/`)) {
      const entry = (await readJson(this.blobs, blob.name, (v) => AuditEntry.parse(v)))?.value;
      if (entry !== undefined) out.push(entry);
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  /**
   * Moves a target's outbox into the audit log: writes each entry, then removes what was written
   * from the outbox by compare-and-set. Safe to repeat (a crash in between rewrites the same entries).
   */
  async relayAudit(name: string, doc: TargetDoc): Promise<void> {
    if (doc.outbox.length === 0) return;
    for (const entry of doc.outbox) await this.writeAudit(entry);
    const written = new Set(doc.outbox.map((e) => e.revision));
    await this.updateTarget(name, (current) => {
      if (current === undefined) return undefined;
      const rest = current.outbox.filter((e) => !written.has(e.revision));
      return rest.length === current.outbox.length ? undefined : { ...current, outbox: rest };
    });
  }

  // --- ARM operations

  async createOperation(doc: OperationDoc): Promise<void> {
    await this.blobs.put(this.operationBlob(doc.id), JSON.stringify(doc), { contentType: "application/json", ifNoneMatch: "*" });
  }

  async getOperation(id: string): Promise<OperationDoc | undefined> {
    return (await readJson(this.blobs, this.operationBlob(id), parseOperation))?.value;
  }

  async updateOperation(id: string, mutate: (current: OperationDoc) => OperationDoc | undefined): Promise<OperationDoc | undefined> {
    const result = await updateJson(this.blobs, this.operationBlob(id), parseOperation, (current) => (current === undefined ? undefined : mutate(current)));
    return result.value;
  }

  async #create(name: string, doc: unknown): Promise<boolean> {
    try {
      await this.blobs.put(name, JSON.stringify(doc), { ifNoneMatch: "*", contentType: "application/json" });
      return true;
    } catch (error) {
      if (error instanceof BlobConflictError || isBlobError(error, "Conflict")) return false;
      throw error;
    }
  }
}
