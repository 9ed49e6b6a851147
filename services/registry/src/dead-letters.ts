// Dead letters over HTTP: what failed, why, after how many attempts, and the original event; an admin
// replays one (the original CloudEvent id under a fresh transport id, to its group only) or drops it.
import { BusError, type DeadLetter, type EventBus } from "@retrain/bus";
import { assertAdmin, HttpError, principalOf, requireApiKey, routeParam, type ApiKeyVerifier, type Principal } from "@retrain/service-kit";
import type { Router } from "express";
import { z } from "zod";

/** What the dead-letter routes need. */
export interface DeadLetterRoutesDeps {
  readonly bus: EventBus;
  readonly verifyKey: ApiKeyVerifier<Principal>;
}

const ListQuery = z.object({
  group: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** The most entries read to find one by id (adapters list in order; ids are theirs). */
const SCAN_LIMIT = 100_000;

/** The original event, parsed, when the payload is JSON text; else undefined. */
function originalEvent(letter: DeadLetter): unknown {
  if (letter.payloadEncoding !== "utf8") return undefined;
  try {
    return JSON.parse(letter.payload) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The workspace a dead letter belongs to, read from its event (the run plan's training web service, or
 * a `workspace` field); undefined when the payload says none (malformed events: admin only).
 */
export function deadLetterWorkspace(letter: DeadLetter): string | undefined {
  const event = originalEvent(letter);
  const data = isRecord(event) && isRecord(event["data"]) ? event["data"] : undefined;
  if (data === undefined) return undefined;
  if (typeof data["workspace"] === "string") return data["workspace"];
  const plan = isRecord(data["plan"]) ? data["plan"] : undefined;
  const service = plan !== undefined && isRecord(plan["trainingWebService"]) ? plan["trainingWebService"] : undefined;
  return typeof service?.["workspace"] === "string" ? service["workspace"] : undefined;
}

function visible(principal: Principal, letter: DeadLetter): boolean {
  return principal.workspace === "*" || deadLetterWorkspace(letter) === principal.workspace;
}

/** A dead letter as listed: everything but the payload. */
function summary(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.id,
    group: letter.group,
    reason: letter.reason,
    description: letter.description,
    attempts: letter.attempts,
    eventId: letter.eventId ?? null,
    eventType: letter.eventType ?? null,
    deadLetteredAt: letter.deadLetteredAt,
  };
}

/** A dead letter as shown: the summary, the payload as stored, and the event when it parses. */
function detail(letter: DeadLetter): Record<string, unknown> {
  return { ...summary(letter), payload: letter.payload, payloadEncoding: letter.payloadEncoding, event: originalEvent(letter) ?? null };
}

/**
 * `GET /v1/deadletters[?group=&limit=]`, `GET /v1/deadletters/{id}`, and for admin keys
 * `POST /v1/deadletters/{id}/replay` and `DELETE /v1/deadletters/{id}`. A workspace key sees the dead
 * letters of its workspace's runs; the admin key sees every one.
 */
export function registerDeadLetterRoutes(router: Router, deps: DeadLetterRoutesDeps): void {
  const auth = requireApiKey(deps.verifyKey);
  const find = async (id: string, principal: Principal): Promise<DeadLetter> => {
    const letter = (await deps.bus.listDeadLetters({ limit: SCAN_LIMIT })).find((d) => d.id === id);
    if (letter === undefined || !visible(principal, letter)) throw new HttpError(404, "DeadLetterNotFound", `No dead letter '${id}' found.`);
    return letter;
  };

  router.get("/v1/deadletters", auth, async (req, res) => {
    const principal = principalOf<Principal>(res);
    const query = ListQuery.parse(req.query);
    const letters = await deps.bus.listDeadLetters({ ...(query.group !== undefined ? { group: query.group } : {}), limit: principal.workspace === "*" ? query.limit : SCAN_LIMIT });
    res.json({ value: letters.filter((d) => visible(principal, d)).slice(0, query.limit).map(summary) });
  });
  router.get("/v1/deadletters/:id", auth, async (req, res) => {
    res.json(detail(await find(routeParam(req, "id"), principalOf<Principal>(res))));
  });
  router.post("/v1/deadletters/:id/replay", auth, async (req, res) => {
    const principal = principalOf<Principal>(res);
    assertAdmin(principal, "replay a dead letter");
    const letter = await find(routeParam(req, "id"), principal);
    try {
      await deps.bus.replayDeadLetter(letter.id);
    } catch (error) {
      // Replayed or dropped by someone else between the read and now.
      if (error instanceof BusError && error.code === "NotFound") throw new HttpError(404, "DeadLetterNotFound", `No dead letter '${letter.id}' found.`);
      throw error;
    }
    res.status(202).json({ replayed: letter.id, group: letter.group, eventId: letter.eventId ?? null, eventType: letter.eventType ?? null });
  });
  router.delete("/v1/deadletters/:id", auth, async (req, res) => {
    const principal = principalOf<Principal>(res);
    assertAdmin(principal, "drop a dead letter");
    const id = routeParam(req, "id");
    await find(id, principal);
    if (!(await deps.bus.dropDeadLetter(id))) throw new HttpError(404, "DeadLetterNotFound", `No dead letter '${id}' found.`);
    res.status(204).end();
  });
}
