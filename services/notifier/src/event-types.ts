import { catalog, isEventType, runEventTypes, type EventType } from "@retrain/contracts";

/** The event types a webhook may subscribe to: the facts of a run (see runEventTypes). */
export const SUBSCRIBABLE_TYPES = runEventTypes;

const subscribable = new Set<string>(SUBSCRIBABLE_TYPES);

/** Resolves a full type name (`retrain.endpoint.updated.v1`) or a short name (`EndpointUpdated`); undefined when unknown. */
export function resolveEventType(name: string): EventType | undefined {
  if (isEventType(name)) return name;
  const entry = Object.values(catalog).find((e) => e.name.toLowerCase() === name.toLowerCase());
  return entry?.type;
}

/** True when webhooks may subscribe to `type`. */
export function isSubscribable(type: string): boolean {
  return subscribable.has(type);
}

/** The short name of a type (`EndpointUpdated`), for people. */
export function shortName(type: string): string {
  return isEventType(type) ? catalog[type].name : type;
}
