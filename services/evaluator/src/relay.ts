import type { EventBus } from "@retrain/bus";
import { parseEvent, type AnyEvent } from "@retrain/contracts";
import type { EvaluationDocument, Evaluations } from "./evaluation.js";

/**
 * Publishes the events in an evaluation's outbox, then removes them from it (compare-and-set). Safe to
 * repeat: event ids are deterministic, so a publish that happened before a crash is a duplicate the
 * broker window and the consumers' inboxes drop.
 */
export async function relayOutbox(doc: EvaluationDocument, deps: { readonly evaluations: Evaluations; readonly bus: EventBus }): Promise<void> {
  if (doc.outbox.length === 0) return;
  const events: AnyEvent[] = doc.outbox.map((raw) => parseEvent(raw));
  for (const event of events) await deps.bus.publish(event);
  const sent = new Set(events.map((e) => e.id));
  await deps.evaluations.update(doc.runId, (current) => {
    if (current === undefined) return undefined;
    const rest = current.outbox.filter((e) => !(isEvent(e) && sent.has(e.id)));
    if (rest.length === current.outbox.length) return undefined;
    const moved = current.outbox.filter((e) => isEvent(e) && sent.has(e.id));
    const published = [...(current.published ?? []).filter((e) => !(isEvent(e) && sent.has(e.id))), ...moved];
    return { ...current, outbox: rest, published };
  });
}

function isEvent(value: unknown): value is { id: string } {
  return typeof value === "object" && value !== null && "id" in value && typeof value.id === "string";
}
