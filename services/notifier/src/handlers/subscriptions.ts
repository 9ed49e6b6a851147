import { readJson, type BlobStore } from "@retrain/blob";
import { ulid } from "@retrain/contracts";
import { assertWorkspaceAccess, HttpError, type Principal } from "@retrain/service-kit";
import { z } from "zod";
import { DELIVERIES_PREFIX, parseSubscription, PENDING_PREFIX, subscriptionBlob, type SubscriptionDocument } from "../documents.js";
import { HandshakeError, SecretFormatError, WebhookUrlError } from "../errors.js";
import { isSubscribable, resolveEventType, shortName } from "../event-types.js";
import { validationHandshake } from "../handshake.js";
import type { SubscriptionSecrets } from "../secrets.js";
import { generateSecret, secretKey } from "../signing.js";
import { checkUrlForm, resolveChecked, type UrlPolicy } from "../url-policy.js";
import { allSubscriptions } from "./events.js";

/** What the subscription handlers need. */
export interface SubscriptionDeps {
  readonly store: BlobStore;
  readonly policy: UrlPolicy;
  /** `WebHook-Request-Origin` of the validation handshake. */
  readonly origin: string;
  readonly handshakeTimeoutMs: number;
  /** Seals secrets at rest. */
  readonly secrets: SubscriptionSecrets;
  readonly now?: () => Date;
}

const TARGET_KEY = /^(classic|new):[^/\s]+\/[^/\s]+\/[^/\s]+$/;

/** The body of `POST /v1/subscriptions`. */
export const CreateSubscriptionBody = z
  .object({
    url: z.string().min(1).max(2048),
    /** Full type names or short names (`EndpointUpdated`). */
    types: z.array(z.string().min(1)).min(1).max(50),
    filter: z
      .object({
        pipeline: z.string().min(1).max(128).optional(),
        target: z.string().regex(TARGET_KEY, "a target key: classic:<workspace>/<web service>/<endpoint> or new:<subscription>/<resource group>/<web service>").optional(),
      })
      .strict()
      .default({}),
    /** `whsec_<base64>`; generated when absent. */
    secret: z.string().optional(),
    /** Only with the admin key (default every workspace); a workspace key's subscriptions are its workspace's. */
    workspace: z.string().min(1).max(64).optional(),
  })
  .strict();
export type CreateSubscriptionBody = z.infer<typeof CreateSubscriptionBody>;

/** A subscription as the API shows it: never the secret. */
export function subscriptionView(doc: SubscriptionDocument): Record<string, unknown> {
  return {
    id: doc.id,
    workspace: doc.workspace,
    url: doc.url,
    types: doc.types,
    shortTypes: doc.types.map(shortName),
    filter: doc.filter,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
  };
}

function canSee(principal: Principal, doc: SubscriptionDocument): boolean {
  return principal.workspace === "*" || principal.workspace === doc.workspace;
}

/** A subscription the principal may see, else 404 (a key of another workspace must not learn it exists). */
export async function visibleSubscription(store: BlobStore, id: string, principal: Principal): Promise<SubscriptionDocument> {
  const doc = /^[A-Za-z0-9_.-]{1,128}$/.test(id) ? await readJson(store, subscriptionBlob(id), parseSubscription) : undefined;
  if (doc === undefined || !canSee(principal, doc.value)) throw new HttpError(404, "NotFound", `No subscription '${id}' found.`);
  return doc.value;
}

/** Maps the URL rules' and the handshake's refusals to 400s with their own codes. */
function refusal(error: unknown): never {
  if (error instanceof WebhookUrlError) throw new HttpError(400, error.code, error.message, { cause: error });
  if (error instanceof HandshakeError) throw new HttpError(400, "HandshakeFailed", error.message, { cause: error });
  throw error;
}

/**
 * Registers a subscription: checks the types, the URL's form and every address it resolves to, then
 * runs the validation handshake; stores it and returns it with its secret (the only time it is shown).
 */
export async function createSubscription(body: CreateSubscriptionBody, principal: Principal, deps: SubscriptionDeps): Promise<Record<string, unknown>> {
  const workspace = body.workspace ?? principal.workspace;
  assertWorkspaceAccess(principal, workspace, "workspace");
  const types: string[] = [];
  for (const name of body.types) {
    const type = resolveEventType(name);
    if (type === undefined) throw new HttpError(400, "UnknownEventType", `'${name}' is not an event type of the catalog.`);
    if (!isSubscribable(type)) throw new HttpError(400, "EventTypeNotSubscribable", `${shortName(type)} is internal to Retrain; webhooks may subscribe to the events of a run.`);
    if (!types.includes(type)) types.push(type);
  }
  let secret = body.secret;
  if (secret !== undefined) {
    try {
      secretKey(secret);
    } catch (error) {
      if (error instanceof SecretFormatError) throw new HttpError(400, "InvalidSecret", `${error.message}; omit it to have one generated.`, { cause: error });
      throw error;
    }
  } else {
    secret = generateSecret();
  }
  try {
    const url = checkUrlForm(body.url, deps.policy);
    await resolveChecked(url, deps.policy);
    await validationHandshake(url.toString(), deps.origin, deps.policy, deps.handshakeTimeoutMs);
  } catch (error) {
    refusal(error);
  }
  const id = ulid().toLowerCase();
  const doc: SubscriptionDocument = {
    id,
    workspace,
    url: body.url,
    types,
    filter: body.filter,
    secret: deps.secrets.seal(id, secret),
    createdAt: (deps.now?.() ?? new Date()).toISOString(),
    createdBy: principal.name,
  };
  await deps.store.put(subscriptionBlob(doc.id), JSON.stringify(doc), { contentType: "application/json", ifNoneMatch: "*" });
  return { ...subscriptionView(doc), secret };
}

/** The subscriptions the principal may see, oldest first. */
export async function listSubscriptions(store: BlobStore, principal: Principal): Promise<Record<string, unknown>[]> {
  return (await allSubscriptions(store)).filter((s) => canSee(principal, s)).map(subscriptionView);
}

/**
 * Deletes a subscription, then its delivery log and pending markers. A delivery being attempted right
 * now finds the subscription gone and ends as cancelled.
 */
export async function deleteSubscription(store: BlobStore, id: string, principal: Principal): Promise<void> {
  await visibleSubscription(store, id, principal);
  await store.delete(subscriptionBlob(id));
  for (const prefix of [`${PENDING_PREFIX}${id}/`, `${DELIVERIES_PREFIX}${id}/`]) {
    for await (const blob of store.list(prefix)) await store.delete(blob.name);
  }
}
