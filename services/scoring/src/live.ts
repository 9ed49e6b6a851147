import { createHash, hash, timingSafeEqual } from "node:crypto";
import type { Principal } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { ServedModelState, TargetDoc } from "./documents.js";
import type { KeyVault } from "./key-vault.js";
import type { LoadedModel, ModelRuntime } from "./model-runtime.js";
import { servingLabel, targetKeyOf } from "./model-updates.js";
import type { ScoringStore } from "./store.js";

/** The model a target answers with right now; immutable, so a request that captured it may keep it. */
export interface Serving {
  readonly model: LoadedModel;
  readonly state: ServedModelState;
  /** `<modelId>@r<revision>`, sent as `x-retrain-model`. */
  readonly label: string;
}

/** Thrown when a model copy in the own store does not match the hash the document records. */
export class ModelCopyCorruptError extends Error {
  override readonly name = "ModelCopyCorruptError";
  constructor(
    readonly blob: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model copy ${blob} has SHA-256 ${actual}; the target document expects ${expected}`);
  }
}

/**
 * Loaded models by content hash: ten endpoints serving one model hold it once, and a model loaded
 * by a PATCH handler is reused by the swap that follows instead of being loaded again.
 */
export class ModelCache {
  readonly #models = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly store: ScoringStore,
  ) {}

  /** Registers a model already loaded (and verified) under its hash. */
  remember(sha256: string, model: LoadedModel): void {
    this.#models.set(sha256, Promise.resolve(model));
  }

  /** The model with this hash, loaded from its own-store copy when not in memory. */
  get(sha256: string, blob: string): Promise<LoadedModel> {
    let pending = this.#models.get(sha256);
    if (pending === undefined) {
      pending = this.#load(sha256, blob);
      this.#models.set(sha256, pending);
      // A failed load must not stick: the next attempt reads the blob again.
      pending.catch(() => {
        if (this.#models.get(sha256) === pending) this.#models.delete(sha256);
      });
    }
    return pending;
  }

  async #load(sha256: string, blob: string): Promise<LoadedModel> {
    const bytes = await this.store.readModel(blob);
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== sha256) throw new ModelCopyCorruptError(blob, sha256, actual);
    return this.runtime.load(bytes);
  }

  /** Forgets models no target serves any more. */
  prune(inUse: ReadonlySet<string>): void {
    for (const sha of this.#models.keys()) if (!inUse.has(sha)) this.#models.delete(sha);
  }

  get size(): number {
    return this.#models.size;
  }
}

// One-shot hash: no Hash object per call (it runs on every RRS request).
function digest(text: string): Buffer {
  return hash("sha256", text, "buffer");
}

/**
 * A target as this process serves it: the settings and key digests of the last document applied,
 * the model answering now, and the count of requests in flight (for MaxConcurrentCalls).
 */
export class LiveTarget {
  doc: TargetDoc;
  /** The blob the document lives in. */
  readonly blob: string;
  serving: Serving | undefined;
  inFlight = 0;
  #keys: Array<{ digest: Buffer; principal: Principal }> = [];
  // Keys this target accepted, by their exact text, so a client presenting the same key on every call
  // skips the SHA-256 (the largest single cost of an RRS call after JSON). Only accepted keys enter,
  // at most one per slot, and the memo is dropped whenever the keys change. A Map probe compares
  // contents only when the string hashes match, so its timing reveals nothing about a key not already
  // held. The plain keys were in memory anyway: the vault opens them with the key-encryption key it holds.
  #accepted = new Map<string, Principal>();

  constructor(blob: string, doc: TargetDoc, vault: KeyVault) {
    this.blob = blob;
    this.doc = doc;
    this.setKeys(doc, vault);
  }

  get id(): string {
    return this.doc.id;
  }

  /** Replaces the key digests (and forgets the keys accepted so far). */
  setKeys(doc: TargetDoc, vault: KeyVault): void {
    this.#accepted = new Map();
    const key = targetKeyOf(doc);
    this.#keys = (["primary", "secondary"] as const).map((slot) => ({
      digest: digest(vault.open(doc.keys[slot], `${doc.id}/${slot}`)),
      principal: { name: `${key}/${slot}`, workspace: doc.workspace, role: "user" },
    }));
  }

  /** The key digests and whose they are (for the registry's key index). */
  get keyEntries(): ReadonlyArray<{ readonly digest: Buffer; readonly principal: Principal }> {
    return this.#keys;
  }

  /** An ApiKeyVerifier over this target's primary and secondary keys (constant-time compare). */
  readonly verify = (key: string): Principal | undefined => {
    const known = this.#accepted.get(key);
    if (known !== undefined) return known;
    const given = digest(key);
    let found: Principal | undefined;
    for (const entry of this.#keys) if (timingSafeEqual(entry.digest, given)) found = entry.principal;
    if (found !== undefined && this.#accepted.size < this.#keys.length) this.#accepted.set(key, found);
    return found;
  };
}

/** Options of {@link LiveRegistry}. */
export interface LiveRegistryOptions {
  readonly runtime: ModelRuntime;
  readonly store: ScoringStore;
  readonly vault: KeyVault;
  readonly logger: Logger;
}

/**
 * Every target this process serves, by execution GUID. Applying a document updates settings and
 * keys at once and, when it names a newer model revision, loads that model (beside the old one)
 * and then swaps `serving` in one assignment. Applies to one target run one after the other, and a
 * swap only ever moves to a higher revision, so racing updates cannot step a target backwards.
 */
export class LiveRegistry {
  readonly models: ModelCache;
  readonly #byId = new Map<string, LiveTarget>();
  readonly #byBlob = new Map<string, LiveTarget>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #swapListeners = new Set<(target: LiveTarget, previous: Serving | undefined) => void>();
  /** Hex SHA-256 of every live key → its target: finds the endpoint a BES or management key belongs to. */
  readonly #keyIndex = new Map<string, LiveTarget>();
  readonly #options: LiveRegistryOptions;

  constructor(options: LiveRegistryOptions) {
    this.#options = options;
    this.models = new ModelCache(options.runtime, options.store);
  }

  get(id: string): LiveTarget | undefined {
    return this.#byId.get(id);
  }

  byBlob(blob: string): LiveTarget | undefined {
    return this.#byBlob.get(blob);
  }

  /** Blob names of every live target. */
  blobs(): string[] {
    return [...this.#byBlob.keys()];
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Calls `listener` right after a target switched models (metrics, tests); returns the unsubscribe. */
  onSwap(listener: (target: LiveTarget, previous: Serving | undefined) => void): () => void {
    this.#swapListeners.add(listener);
    return () => this.#swapListeners.delete(listener);
  }

  /** The target whose primary or secondary key `key` is, with the key's principal. */
  byKey(key: string): { target: LiveTarget; principal: Principal } | undefined {
    const target = this.#keyIndex.get(digest(key).toString("hex"));
    if (target === undefined) return undefined;
    const principal = target.verify(key);
    return principal === undefined ? undefined : { target, principal };
  }

  #index(target: LiveTarget, previous: ReadonlyArray<{ readonly digest: Buffer }>): void {
    for (const entry of previous) {
      const hex = entry.digest.toString("hex");
      if (this.#keyIndex.get(hex) === target) this.#keyIndex.delete(hex);
    }
    if (this.#byId.get(target.id) !== target) return;
    for (const entry of target.keyEntries) this.#keyIndex.set(entry.digest.toString("hex"), target);
  }

  /** Resolves once the documents being applied to the target of `blob` are (its model loaded, or failed to). */
  settled(blob: string): Promise<void> {
    return this.#chains.get(blob) ?? Promise.resolve();
  }

  /**
   * Brings the target of `blob` to `doc` (serialized per target). Resolves once any model change it
   * names is serving; rejects when that model cannot be loaded (the old one keeps serving).
   */
  apply(blob: string, doc: TargetDoc): Promise<void> {
    const previous = this.#chains.get(blob) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.#apply(blob, doc));
    const tail = next.catch(() => undefined);
    this.#chains.set(blob, tail);
    void tail.then(() => {
      if (this.#chains.get(blob) === tail) this.#chains.delete(blob);
    });
    return next;
  }

  async #apply(blob: string, doc: TargetDoc): Promise<void> {
    let target = this.#byBlob.get(blob);
    if (target !== undefined && target.id !== doc.id) {
      // Deleted and created again under the same name: a different target.
      this.#drop(target);
      target = undefined;
    }
    if (target === undefined) {
      target = new LiveTarget(blob, doc, this.#options.vault);
      this.#byBlob.set(blob, target);
      this.#byId.set(doc.id, target);
      this.#index(target, []);
    } else if (doc.generation >= target.doc.generation) {
      const previous = target.keyEntries;
      target.doc = doc;
      target.setKeys(doc, this.#options.vault);
      this.#index(target, previous);
    }
    const wanted = doc.model;
    if (wanted === undefined) return;
    const current = target.serving;
    if (current !== undefined && current.state.revision >= wanted.revision) return;
    const model = await this.models.get(wanted.sha256, wanted.blob);
    // The target may have been removed, or moved further on, while the model loaded.
    if (this.#byBlob.get(blob) !== target) return;
    const now = target.serving;
    if (now === undefined || now.state.revision < wanted.revision) {
      // The swap: one assignment. Requests that captured `now` finish with it.
      target.serving = { model, state: wanted, label: servingLabel(wanted) };
      this.#prune();
      for (const listener of this.#swapListeners) listener(target, now);
    }
  }

  /** Stops serving the target of `blob` (deleted). */
  remove(blob: string): void {
    const target = this.#byBlob.get(blob);
    if (target !== undefined) this.#drop(target);
  }

  #drop(target: LiveTarget): void {
    this.#byBlob.delete(target.blob);
    if (this.#byId.get(target.id) === target) this.#byId.delete(target.id);
    this.#index(target, target.keyEntries);
    this.#prune();
  }

  #prune(): void {
    const inUse = new Set<string>();
    for (const target of this.#byId.values()) if (target.serving !== undefined) inUse.add(target.serving.state.sha256);
    this.models.prune(inUse);
  }
}
