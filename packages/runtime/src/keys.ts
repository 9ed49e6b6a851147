import { randomBytes } from "node:crypto";
import { readJson, updateJson, type BlobStore } from "@retrain/blob";
import {
  apiKeyVerifier,
  assertAdmin,
  assertWorkspaceAccess,
  HttpError,
  KeyHasher,
  principalOf,
  requireApiKey,
  routeParam,
  type ApiKeyVerifier,
  type CreateHttpAppOptions,
  type Principal,
} from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import { z } from "zod";
import { platformKek } from "./adapters.js";
import type { WorkspaceConfig } from "./config-file.js";
import type { PlatformEnv } from "./platform-config.js";

/**
 * A verifier over fixed keys (the admin key and each workspace's keys from retrain.yaml), with no
 * store behind it: for tests and tools that do not rotate keys. Services use {@link Keyring}.
 */
export function keyVerifier(options: { adminKey?: string; workspaces: readonly WorkspaceConfig[] }): ApiKeyVerifier<Principal> {
  const entries: Array<[string, Principal]> = [];
  if (options.adminKey !== undefined) entries.push([options.adminKey, ADMIN]);
  for (const ws of options.workspaces) {
    entries.push([ws.keys.primary, workspacePrincipal(ws.id, "primary")]);
    if (ws.keys.secondary !== undefined) entries.push([ws.keys.secondary, workspacePrincipal(ws.id, "secondary")]);
  }
  return apiKeyVerifier(entries);
}

/** The two keys of a workspace, as the classic service had them. */
export type KeySlot = "primary" | "secondary";
const SLOTS: readonly KeySlot[] = ["primary", "secondary"];

/** The one shared document every service's verifier reads; it holds digests only, never a key. */
export const KEYRING_BLOB = "keys/keyring.json";

const ADMIN: Principal = { name: "admin", workspace: "*", role: "admin" };
const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Operator names: lowercase, no `/` (workspace keys are named `<workspace>/<slot>`), never `admin`. */
const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The principal of an operator key: the admin's rights or one workspace's, under the operator's name. */
function operatorPrincipal(name: string, operator: StoredOperator): Principal {
  return { name, workspace: operator.workspace, role: operator.workspace === "*" ? "admin" : "user" };
}

function workspacePrincipal(workspace: string, slot: KeySlot): Principal {
  return { name: `${workspace}/${slot}`, workspace, role: "user" };
}

const StoredKey = z.object({
  /** Digest of the key (see KeyHasher); the key itself is never stored. */
  hash: z.string(),
  /** Digest of the retrain.yaml key that last seeded this slot: a restart re-seeds only when the file changed. */
  seed: z.string().optional(),
  origin: z.enum(["config", "regenerated"]),
  updatedAt: z.string(),
});
type StoredKey = z.infer<typeof StoredKey>;

/** A person's (or a tool's) own key: what it may do is the admin's or one workspace's, under its own name. */
const StoredOperator = z.object({
  hash: z.string(),
  /** `*` (an admin) or the one workspace it opens (a workspace user). */
  workspace: z.string(),
  createdAt: z.string(),
  /** The key name that made it. */
  createdBy: z.string(),
});
type StoredOperator = z.infer<typeof StoredOperator>;

const KeyringDocument = z.object({
  version: z.literal(1),
  /** How the digests were made (KeyHasher.scheme); every process must use the same. */
  scheme: z.string(),
  /** The bootstrap admin key generated at the first start (absent when one is configured). */
  admin: z.object({ hash: z.string(), createdAt: z.string() }).optional(),
  workspaces: z.record(z.string(), z.object({ primary: StoredKey.optional(), secondary: StoredKey.optional() })),
  /** Named keys, by name: approvals, rollbacks and the rest record who by this name. */
  operators: z.record(z.string(), StoredOperator).optional(),
});
type KeyringDocument = z.infer<typeof KeyringDocument>;

/** The keyring cannot be used: its digests were made with another key-encryption key, or it is unreadable. */
export class KeyringError extends Error {
  override readonly name = "KeyringError";
  constructor(
    readonly code: "SchemeMismatch" | "Unavailable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options of {@link Keyring.open}. */
export interface OpenKeyringOptions {
  /** The deployment's shared blob store (the keyring is {@link KEYRING_BLOB} in it). */
  readonly store: BlobStore;
  /** Key-encryption key (`RETRAIN_KEK`, 32 bytes): digests are HMACs under it. Default none: plain SHA-256. */
  readonly kek?: Buffer;
  /** The configured admin key (`RETRAIN_ADMIN_KEY`); never stored. Default none. */
  readonly adminKey?: string;
  /** Workspaces of retrain.yaml: they seed the keyring (a rotated slot is left alone until the file changes). */
  readonly workspaces: readonly WorkspaceConfig[];
  /**
   * With no admin key configured and none generated before: generate one, keep only its digest and
   * hand it back once as {@link OpenedKeyring.generatedAdminKey}. Default true.
   */
  readonly generateAdminKey?: boolean;
  /** Keys only this process knows (never stored), e.g. the embedded default's internal service key. */
  readonly processKeys?: Iterable<readonly [key: string, principal: Principal]>;
  /** How long a read of the keyring is trusted: a rotation reaches every service within it. Default 2 s. */
  readonly cacheMs?: number;
  readonly logger: Logger;
}

/** What {@link Keyring.open} returns. */
export interface OpenedKeyring {
  readonly keyring: Keyring;
  /** The admin key this start generated: print it once; it is not kept anywhere in clear. */
  readonly generatedAdminKey?: string;
}

/** A workspace's keys as `GET /v1/workspaces/{ws}/keys` shows them (never the keys). */
export interface WorkspaceKeysView {
  readonly workspace: string;
  readonly primary: { readonly origin: string; readonly updatedAt: string } | null;
  readonly secondary: { readonly origin: string; readonly updatedAt: string } | null;
}

/** The route-registration callback of the HTTP app factory; its argument is the express router. */
type Router = Parameters<NonNullable<CreateHttpAppOptions["routes"]>>[0];

const RegenerateBody = z.object({ key: z.enum(["primary", "secondary"]) }).strict();
const OperatorBody = z.object({ name: z.string(), workspace: z.string().default("*") }).strict();

/** An operator key as `GET /v1/operators` shows it (never the key). */
export interface OperatorView {
  readonly name: string;
  readonly workspace: string;
  readonly role: "admin" | "user";
  readonly createdAt: string;
  readonly createdBy: string;
}

/**
 * The deployment's API keys. The workspaces' primary and secondary keys, and the operators' named
 * keys (a person's own admin or workspace key, so what they do is recorded under their name), live as digests in one shared
 * document of the blob store ({@link KEYRING_BLOB}); retrain.yaml seeds it, the regenerate operation
 * replaces a slot, and every service's verifier re-reads it when its copy is older than `cacheMs`,
 * so a rotation reaches every service (in every process) within that time without any message.
 */
export class Keyring {
  readonly #store: BlobStore;
  readonly #hasher: KeyHasher;
  readonly #cacheMs: number;
  readonly #logger: Logger;
  /** Keys checked in memory before the document: the configured admin key and the process keys. */
  readonly #fixed: ApiKeyVerifier<Principal>;
  #byHash = new Map<string, Principal>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;

  private constructor(options: OpenKeyringOptions) {
    this.#store = options.store;
    this.#hasher = new KeyHasher(options.kek);
    this.#cacheMs = options.cacheMs ?? 2_000;
    this.#logger = options.logger;
    const fixed: Array<readonly [string, Principal]> = [...(options.processKeys ?? [])];
    if (options.adminKey !== undefined) fixed.push([options.adminKey, ADMIN]);
    this.#fixed = apiKeyVerifier(fixed);
  }

  /** Seeds the keyring from configuration (compare-and-set; safe when many services start at once) and loads it. */
  static async open(options: OpenKeyringOptions): Promise<OpenedKeyring> {
    const keyring = new Keyring(options);
    const hasher = keyring.#hasher;
    const candidate = options.adminKey === undefined && options.generateAdminKey !== false ? randomBytes(32).toString("base64url") : undefined;
    const result = await updateJson(options.store, KEYRING_BLOB, parseKeyring, (current) => {
      const now = new Date().toISOString();
      const doc = keyring.#editable(current);
      let changed = current === undefined;
      for (const ws of options.workspaces) {
        const slots = doc.workspaces[ws.id] ?? {};
        for (const slot of SLOTS) {
          const configured = ws.keys[slot];
          const existing = slots[slot];
          if (configured === undefined) {
            // A key removed from the file stops working; a regenerated one is the operator's and stays.
            if (existing?.origin === "config") {
              delete slots[slot];
              changed = true;
            }
            continue;
          }
          const seed = hasher.hash(configured);
          if (existing?.seed === seed) continue;
          slots[slot] = { hash: seed, seed, origin: "config", updatedAt: now };
          changed = true;
        }
        doc.workspaces[ws.id] = slots;
      }
      if (options.adminKey !== undefined && doc.admin !== undefined) {
        // A configured admin key replaces the generated one: two admin keys are one too many.
        delete doc.admin;
        changed = true;
      } else if (candidate !== undefined && doc.admin === undefined) {
        doc.admin = { hash: hasher.hash(candidate), createdAt: now };
        changed = true;
      }
      return changed ? doc : undefined;
    });
    const doc = result.value ?? (await keyring.#read());
    if (doc === undefined) throw new KeyringError("Unavailable", `the keyring ${KEYRING_BLOB} could not be created`);
    keyring.#install(doc);
    const generated = candidate !== undefined && doc.admin?.hash === hasher.hash(candidate) && result.changed;
    return { keyring, ...(generated ? { generatedAdminKey: candidate } : {}) };
  }

  /** The verifier every HTTP API of this process uses: fixed keys, then the (cached) keyring. */
  readonly verify: ApiKeyVerifier<Principal> = async (key) => {
    const fixed = await this.#fixed(key);
    if (fixed !== undefined) return fixed;
    if (Date.now() - this.#loadedAt > this.#cacheMs) await this.refresh();
    return this.#byHash.get(this.#hasher.hash(key));
  };

  /**
   * Re-reads the keyring now (concurrent callers share one read). A failed read keeps the last copy
   * (a blob store hiccup must not lock every client out) for another cache period.
   */
  async refresh(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const doc = await this.#read();
        if (doc !== undefined) this.#install(doc);
        else this.#byHash = new Map();
        this.#loadedAt = Date.now();
      } catch (error) {
        if (error instanceof KeyringError && error.code === "SchemeMismatch") throw error;
        // Tried again after another cache period, not on every request (each would wait for the store).
        this.#loadedAt = Date.now();
        this.#logger.warn({ err: error, blob: KEYRING_BLOB }, "could not re-read the keyring; using the last copy");
      } finally {
        this.#loading = undefined;
      }
    })();
    await this.#loading;
  }

  /**
   * Replaces a workspace's primary or secondary key with a new random one and returns it (the only
   * time it exists in clear). Creates the workspace's keys when it has none yet.
   */
  async regenerate(workspace: string, slot: KeySlot): Promise<string> {
    if (!WORKSPACE_ID.test(workspace)) throw new HttpError(400, "BadArgument", "A workspace id is 1-64 letters, digits, '_' or '-'.");
    const key = randomBytes(32).toString("base64url");
    const hash = this.#hasher.hash(key);
    const result = await updateJson(this.#store, KEYRING_BLOB, parseKeyring, (current) => {
      const doc = this.#editable(current);
      const slots = doc.workspaces[workspace] ?? {};
      const existing = slots[slot];
      // The seed stays: a restart with the same retrain.yaml must not bring the old key back.
      slots[slot] = { hash, ...(existing?.seed !== undefined ? { seed: existing.seed } : {}), origin: "regenerated", updatedAt: new Date().toISOString() };
      doc.workspaces[workspace] = slots;
      return doc;
    });
    if (result.value !== undefined) this.#install(result.value);
    this.#logger.info({ workspace, slot }, "workspace key regenerated");
    return key;
  }

  /**
   * Creates a named key and returns it (the only time it exists in clear): an admin's rights for
   * `workspace` `*`, else one workspace's. Throws 400 for a bad name or workspace, 409 when the name is taken.
   */
  async createOperator(name: string, workspace: string, createdBy: string): Promise<string> {
    if (!OPERATOR_NAME.test(name) || name === "admin") {
      throw new HttpError(400, "BadArgument", "An operator name is 1-64 lowercase letters, digits, '.', '_' or '-' (not 'admin').");
    }
    if (workspace !== "*" && !WORKSPACE_ID.test(workspace)) throw new HttpError(400, "BadArgument", "A workspace id is 1-64 letters, digits, '_' or '-' ('*' for an admin).");
    const key = randomBytes(32).toString("base64url");
    const operator: StoredOperator = { hash: this.#hasher.hash(key), workspace, createdAt: new Date().toISOString(), createdBy };
    const result = await updateJson(this.#store, KEYRING_BLOB, parseKeyring, (current) => {
      const doc = this.#editable(current);
      if (doc.operators?.[name] !== undefined) throw new HttpError(409, "OperatorExists", `An operator named '${name}' exists; delete it first to give it a new key.`);
      doc.operators = { ...doc.operators, [name]: operator };
      return doc;
    });
    if (result.value !== undefined) this.#install(result.value);
    this.#logger.info({ operator: name, workspace, by: createdBy }, "operator key created");
    return key;
  }

  /** Deletes a named key (it stops working in every process within the cache time); false when there was none. */
  async deleteOperator(name: string, deletedBy: string): Promise<boolean> {
    let found = false;
    const result = await updateJson(this.#store, KEYRING_BLOB, parseKeyring, (current) => {
      found = current?.operators?.[name] !== undefined;
      if (current === undefined || !found) return undefined;
      const doc = structuredClone(current);
      delete doc.operators?.[name];
      return doc;
    });
    if (result.value !== undefined) this.#install(result.value);
    if (found) this.#logger.info({ operator: name, by: deletedBy }, "operator key deleted");
    return found;
  }

  /** The named keys, by name (never the keys). */
  async listOperators(): Promise<OperatorView[]> {
    const operators = (await this.#read())?.operators ?? {};
    return Object.entries(operators)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, o]) => ({ name, workspace: o.workspace, role: operatorPrincipal(name, o).role, createdAt: o.createdAt, createdBy: o.createdBy }));
  }

  /** Which slots a workspace has and when they changed; undefined for a workspace without keys. */
  async describe(workspace: string): Promise<WorkspaceKeysView | undefined> {
    const doc = await this.#read();
    const slots = doc?.workspaces[workspace];
    if (slots === undefined || (slots.primary === undefined && slots.secondary === undefined)) return undefined;
    const view = (stored: StoredKey | undefined) => (stored === undefined ? null : { origin: stored.origin, updatedAt: stored.updatedAt });
    return { workspace, primary: view(slots.primary), secondary: view(slots.secondary) };
  }

  /**
   * `POST /v1/workspaces/{ws}/keys/regenerate {"key":"primary"|"secondary"}` → `{workspace, slot, key}`
   * and `GET /v1/workspaces/{ws}/keys` (slots and dates, never keys). Admin only; another workspace's
   * key gets 404, its own workspace's key 403.
   */
  registerRoutes(router: Router): void {
    const auth = requireApiKey(this.verify);
    const caller = (res: Parameters<typeof principalOf>[0], workspace: string, action: string): void => {
      const principal = principalOf<Principal>(res);
      assertWorkspaceAccess(principal, workspace, "workspace");
      assertAdmin(principal, action);
    };
    router.post("/v1/workspaces/:workspace/keys/regenerate", auth, async (req, res) => {
      const workspace = routeParam(req, "workspace");
      caller(res, workspace, "regenerate workspace keys");
      const parsed = RegenerateBody.safeParse(req.body ?? {});
      if (!parsed.success) throw new HttpError(400, "BadArgument", `The body must be {"key": "primary" | "secondary"}.`);
      const key = await this.regenerate(workspace, parsed.data.key);
      res.setHeader("Cache-Control", "no-store");
      res.status(200).json({ workspace, slot: parsed.data.key, key });
    });
    // Operators are the deployment's, not a workspace's: only an admin of every workspace manages them.
    const globalAdmin = (res: Parameters<typeof principalOf>[0], action: string): Principal => {
      const principal = principalOf<Principal>(res);
      assertAdmin(principal, action);
      if (principal.workspace !== "*") throw new HttpError(403, "Forbidden", `Only an admin key of every workspace may ${action}.`);
      return principal;
    };
    router.post("/v1/operators", auth, async (req, res) => {
      const principal = globalAdmin(res, "create operator keys");
      const parsed = OperatorBody.safeParse(req.body ?? {});
      if (!parsed.success) throw new HttpError(400, "BadArgument", `The body must be {"name": "<operator>", "workspace"?: "<workspace>" | "*"}.`);
      const { name, workspace } = parsed.data;
      const key = await this.createOperator(name, workspace, principal.name);
      res.setHeader("Cache-Control", "no-store");
      res.status(201).json({ name, workspace, role: workspace === "*" ? "admin" : "user", key });
    });
    router.get("/v1/operators", auth, async (_req, res) => {
      globalAdmin(res, "list operator keys");
      res.status(200).json({ value: await this.listOperators() });
    });
    router.delete("/v1/operators/:name", auth, async (req, res) => {
      const principal = globalAdmin(res, "delete operator keys");
      const name = routeParam(req, "name");
      if (!(await this.deleteOperator(name, principal.name))) throw new HttpError(404, "NotFound", `No operator named '${name}'.`);
      res.status(204).end();
    });
    router.get("/v1/workspaces/:workspace/keys", auth, async (req, res) => {
      const workspace = routeParam(req, "workspace");
      caller(res, workspace, "list workspace keys");
      const view = await this.describe(workspace);
      if (view === undefined) throw new HttpError(404, "NotFound", `No workspace found in workspace '${workspace}'.`);
      res.status(200).json(view);
    });
  }

  /** A copy of the keyring to change (a new one when there is none), refused when its digests are another KEK's. */
  #editable(current: KeyringDocument | undefined): KeyringDocument {
    const doc: KeyringDocument = current === undefined ? { version: 1, scheme: this.#hasher.scheme, workspaces: {} } : structuredClone(current);
    if (doc.scheme !== this.#hasher.scheme) throw schemeMismatch(doc.scheme, this.#hasher.scheme);
    return doc;
  }

  async #read(): Promise<KeyringDocument | undefined> {
    const doc = (await readJson(this.#store, KEYRING_BLOB, parseKeyring))?.value;
    if (doc !== undefined && doc.scheme !== this.#hasher.scheme) throw schemeMismatch(doc.scheme, this.#hasher.scheme);
    return doc;
  }

  #install(doc: KeyringDocument): void {
    const byHash = new Map<string, Principal>();
    if (doc.admin !== undefined) byHash.set(doc.admin.hash, ADMIN);
    for (const [workspace, slots] of Object.entries(doc.workspaces)) {
      for (const slot of SLOTS) {
        const stored = slots[slot];
        if (stored !== undefined) byHash.set(stored.hash, workspacePrincipal(workspace, slot));
      }
    }
    for (const [name, operator] of Object.entries(doc.operators ?? {})) byHash.set(operator.hash, operatorPrincipal(name, operator));
    this.#byHash = byHash;
    this.#loadedAt = Date.now();
  }
}

function parseKeyring(value: unknown): KeyringDocument {
  return KeyringDocument.parse(value);
}

function schemeMismatch(stored: string, mine: string): KeyringError {
  return new KeyringError(
    "SchemeMismatch",
    `the keyring ${KEYRING_BLOB} holds digests made with '${stored}' but this process uses '${mine}': configure the same RETRAIN_KEK in every service`,
  );
}

/**
 * A service's keyring from its platform configuration (`RETRAIN_KEK`, `RETRAIN_ADMIN_KEY`,
 * `RETRAIN_KEY_CACHE`) and retrain.yaml's workspaces; warns once when no KEK is configured.
 */
export async function openServiceKeyring(
  env: Pick<PlatformEnv, "RETRAIN_KEK" | "RETRAIN_ADMIN_KEY" | "RETRAIN_KEY_CACHE">,
  options: { readonly store: BlobStore; readonly workspaces: readonly WorkspaceConfig[]; readonly logger: Logger },
): Promise<OpenedKeyring> {
  const kek = platformKek(env);
  if (kek === undefined) {
    options.logger.warn("RETRAIN_KEK is not set: API-key digests are plain SHA-256 and the trainer keeps BES connection strings and SAS tokens in clear (see docs/security.md)");
  }
  return Keyring.open({
    store: options.store,
    workspaces: options.workspaces,
    logger: options.logger,
    cacheMs: env.RETRAIN_KEY_CACHE,
    ...(kek !== undefined ? { kek } : {}),
    ...(env.RETRAIN_ADMIN_KEY !== undefined ? { adminKey: env.RETRAIN_ADMIN_KEY } : {}),
  });
}

/** The line a service prints (stdout, never the logger) when it generated the bootstrap admin key. */
export function generatedAdminKeyNotice(key: string): string {
  return `Retrain admin key (generated at the first start; shown once, only its digest is kept): ${key}`;
}
