import { randomBytes } from "node:crypto";
import type { LocationDeps } from "@retrain/bes";
import { splitSasUrl, type BlobStore } from "@retrain/blob";
import type { Logger } from "@retrain/telemetry";
import type { TargetDoc } from "./documents.js";
import { generateApiKey, type KeyVault } from "./key-vault.js";
import { LiveRegistry } from "./live.js";
import { ModelLoadError, type InputColumn, type LoadedModel, type ModelRuntime } from "./model-runtime.js";
import { fetchModel, ModelFetchError, type ModelSource } from "./model-source.js";
import { planModelChange, type ChangePlan, type ModelCandidate, type ModelChange } from "./model-updates.js";
import { ScoringStore } from "./store.js";
import { TargetSync } from "./sync.js";
import type { ResourceLocationJson } from "./wire/classic.js";

/** Options of {@link ScoringHost}. */
export interface ScoringHostOptions {
  readonly store: BlobStore;
  readonly runtime: ModelRuntime;
  readonly vault: KeyVault;
  readonly logger: Logger;
  /** Base URL clients reach this host at (ApiLocation, Azure-AsyncOperation, nextLink). */
  readonly publicUrl: string;
  /** Allow-list for model URLs (shared with BES). */
  readonly locations: LocationDeps;
  /** Largest model accepted. */
  readonly modelMaxBytes: number;
  /** Time allowed to download a model. */
  readonly modelFetchTimeoutMs: number;
  /** Lifetime of the read URLs of model copies shown to clients. */
  readonly readUrlLifetimeMs: number;
  /** Pause between two polls of the target documents. */
  readonly syncIntervalMs: number;
}

/** Why a model cannot be served: the classic/ARM code and a message for the caller. */
export class ModelRejectedError extends Error {
  override readonly name = "ModelRejectedError";
  constructor(
    readonly code: "ModelUnreadable" | "ModelIncompatible" | "ModelNotFound" | "ModelFetchFailed" | "ModelTooLarge" | "LocationNotAllowed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A model fetched, verified, warmed and copied into the own store: ready to become a target's model. */
export interface PreparedModel {
  readonly candidate: ModelCandidate;
  readonly model: LoadedModel;
}

/** What {@link ScoringHost.changeModel} did. */
export type ModelChangeResult = ChangePlan & { readonly etag: string | undefined };

/**
 * The scoring host's core, under its HTTP APIs: target documents, the live (served) targets, model
 * preparation (fetch → verify → warm → copy), model changes by compare-and-set with their audit
 * entries, and the poller that keeps replicas converged.
 */
export class ScoringHost {
  readonly docs: ScoringStore;
  readonly live: LiveRegistry;
  readonly sync: TargetSync;
  readonly options: ScoringHostOptions;
  #publicUrl: string;

  constructor(options: ScoringHostOptions) {
    this.options = options;
    this.#publicUrl = options.publicUrl.replace(/\/+$/, "");
    this.docs = new ScoringStore(options.store);
    this.live = new LiveRegistry({ runtime: options.runtime, store: this.docs, vault: options.vault, logger: options.logger });
    this.sync = new TargetSync({ store: this.docs, live: this.live, logger: options.logger, intervalMs: options.syncIntervalMs });
  }

  /** Base URL clients reach this host at. */
  get publicUrl(): string {
    return this.#publicUrl;
  }

  /** Sets the public base URL once it is known (a server listening on port 0). */
  set publicUrl(url: string) {
    this.#publicUrl = url.replace(/\/+$/, "");
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** A new execution GUID (32 hex, as the classic service's ids). */
  newId(): string {
    return randomBytes(16).toString("hex");
  }

  /** Seals a key pair for target `id` (generating what is not given). */
  sealKeys(id: string, keys: { primary?: string | undefined; secondary?: string | undefined } = {}): TargetDoc["keys"] {
    const { vault } = this.options;
    return {
      primary: vault.seal(keys.primary ?? generateApiKey(), `${id}/primary`),
      secondary: vault.seal(keys.secondary ?? generateApiKey(), `${id}/secondary`),
    };
  }

  /** The plain keys of a target (for the classic GET and ARM listKeys only). */
  keysOf(doc: TargetDoc): { primary: string; secondary: string } {
    const { vault } = this.options;
    return { primary: vault.open(doc.keys.primary, `${doc.id}/primary`), secondary: vault.open(doc.keys.secondary, `${doc.id}/secondary`) };
  }

  sealStorageKey(id: string, key: string): ReturnType<KeyVault["seal"]> {
    return this.options.vault.seal(key, `${id}/storage`);
  }

  /**
   * Fetches a model (own store or allow-listed URL), loads and warms it, checks it against the input
   * schema when one is given, and copies it into the own store. Nothing changes for any target.
   */
  async prepareModel(source: ModelSource, inputSchema?: readonly InputColumn[], signal?: AbortSignal): Promise<PreparedModel> {
    let fetched;
    try {
      fetched = await fetchModel(source, {
        locations: this.options.locations,
        maxBytes: this.options.modelMaxBytes,
        timeoutMs: this.options.modelFetchTimeoutMs,
        ...(signal !== undefined ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof ModelFetchError) throw new ModelRejectedError(error.code, error.message, { cause: error });
      throw error;
    }
    let model: LoadedModel;
    try {
      model = await this.options.runtime.load(fetched.bytes);
    } catch (error) {
      if (error instanceof ModelLoadError) throw new ModelRejectedError(error.code, error.message, { cause: error });
      throw error;
    }
    if (inputSchema !== undefined) {
      const problems = model.compatibility(inputSchema);
      if (problems.length > 0) {
        throw new ModelRejectedError("ModelIncompatible", `The model does not fit the web service's input schema: ${problems.join("; ")}.`);
      }
    }
    const blob = await this.docs.putModel(fetched.sha256, fetched.bytes);
    this.live.models.remember(fetched.sha256, model);
    return {
      model,
      candidate: {
        sha256: fetched.sha256,
        blob,
        size: fetched.bytes.byteLength,
        learner: model.info.learner,
        task: model.info.task,
        source: fetched.source,
      },
    };
  }

  /**
   * Applies a model change to the target of `blob` by compare-and-set (the ordering rules are
   * re-checked against the document as it stands at write time), then swaps it in here and relays
   * the audit entry. Stale or unchanged outcomes write nothing.
   */
  async changeModel(blob: string, change: ModelChange, alsoMutate?: (doc: TargetDoc) => TargetDoc): Promise<ModelChangeResult> {
    let plan: ChangePlan | undefined;
    const result = await this.docs.updateTarget(blob, (current) => {
      if (current === undefined) {
        plan = undefined;
        return undefined;
      }
      plan = planModelChange(current, change);
      if (plan.outcome === "stale") return undefined;
      if (plan.outcome === "unchanged") return alsoMutate === undefined ? undefined : alsoMutate(current);
      return alsoMutate === undefined ? plan.doc : alsoMutate(plan.doc);
    });
    if (plan === undefined || result.value === undefined) throw new TargetGoneError(blob);
    await this.install(blob, result.value, result.etag);
    return { ...plan, doc: result.value, etag: result.etag };
  }

  /** Serves `doc` here now (swapping its model in if newer) and relays its audit outbox. */
  async install(blob: string, doc: TargetDoc, etag: string | undefined): Promise<void> {
    await this.live.apply(blob, doc);
    if (etag !== undefined) this.sync.noteApplied(blob, etag);
    if (doc.outbox.length > 0) {
      await this.docs.relayAudit(blob, doc).catch((error: unknown) => {
        // The outbox stays in the document; the next sync relays it.
        this.logger.warn({ err: error, blob }, "relaying audit entries failed; will retry");
      });
    }
  }

  /** Stops serving a deleted target here. */
  uninstall(blob: string): void {
    this.live.remove(blob);
    this.sync.noteDeleted(blob);
  }

  /** A fresh read URL of a target's model copy, split as a classic resource location. */
  async modelLocation(doc: TargetDoc): Promise<ResourceLocationJson | undefined> {
    const url = await this.readUrl(doc);
    if (url === undefined) return undefined;
    if (this.options.store.kind === "azure") {
      const parts = splitSasUrl(url);
      return { BaseLocation: parts.baseLocation, RelativeLocation: parts.relativeLocation, SasBlobToken: parts.sasBlobToken };
    }
    const parsed = new URL(url);
    const token = parsed.search;
    return { BaseLocation: `${parsed.origin}/`, RelativeLocation: parsed.pathname.replace(/^\/+/, ""), SasBlobToken: token };
  }

  /** A read URL of the served model copy, or undefined when the store cannot mint one (no public URL configured). */
  async readUrl(doc: TargetDoc): Promise<string | undefined> {
    if (doc.model === undefined) return undefined;
    try {
      return await this.options.store.readUrl(doc.model.blob, this.options.readUrlLifetimeMs);
    } catch (error) {
      this.logger.debug({ err: error }, "no read URL for a model copy");
      return undefined;
    }
  }
}

/** The target document disappeared during an update (deleted concurrently). */
export class TargetGoneError extends Error {
  override readonly name = "TargetGoneError";
  constructor(readonly blob: string) {
    super(`target ${blob} no longer exists`);
  }
}
