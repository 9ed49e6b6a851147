// The chaos runner's own record of what it sent and what it saw on the bus. The checker judges runs
// against this ledger (and the scoring host's audit log), never against the system's own view alone.
import { EventTypes, targetKey, type AnyEvent, type EndpointTarget } from "@retrain/contracts";

/** One pipeline run the runner asked for: an upload of a dataset. */
export interface SentRun {
  readonly index: number;
  readonly pipeline: string;
  /** The targets the runner configured for the pipeline (keys as targetKey spells them). */
  readonly targets: readonly string[];
  readonly sentAt: number;
  /** Upload attempts (a killed ingestion makes the runner try again with the same bytes). */
  attempts: number;
  /** Set when ingestion accepted the upload. */
  runId?: string;
  runSequence?: number;
  acceptedAt?: number;
  /** Set when the runner saw the run's terminal event(s). */
  terminalAt?: number;
}

/** Every delivery the ledger's consumer group received, in arrival order (duplicates included). */
export interface SeenEvent {
  readonly event: AnyEvent;
  readonly at: number;
}

/** A fault the runner injected, with what it interrupted. */
export interface FaultRecord {
  readonly kind: "kill" | "broker-restart";
  /** The service killed (`nats-server` for a broker restart). */
  readonly service: string;
  readonly at: number;
  /** The handler that had work in progress, e.g. `evaluator: ModelTrained → verdict`. */
  readonly handler: string;
  /** The runs whose stage was in progress at the kill (their input seen, their outcome not yet). */
  readonly runs: readonly string[];
  /** When the process listened again. */
  backAt?: number;
}

// The services whose stages the ledger can see from the bus (the notifier has no work in a chaos run).
const TRACKED = new Set(["ingestion", "trainer", "evaluator", "classic-promoter", "new-promoter", "scoring", "registry"]);

/** What a run has reached, derived from the events seen (each event id counted once). */
export interface RunProgress {
  dataArrived: boolean;
  trained: boolean;
  trainingFailed: boolean;
  verdict?: "approved" | "rejected" | "awaiting";
  /** targetKey → outcome type. */
  readonly outcomes: Map<string, "updated" | "failed">;
  /** Target keys of the run's plan (from DataArrived). */
  planTargets: string[];
}

/** The ledger: runs sent, events seen, faults injected, uploads in flight. */
export class Ledger {
  readonly runs: SentRun[] = [];
  readonly seen: SeenEvent[] = [];
  readonly faults: FaultRecord[] = [];
  /** Event ids the duplicator published a second copy of. */
  readonly duplicated = new Set<string>();
  /** The same event published again under its own id (a producer's retry): what the broker said. */
  readonly retries: { readonly eventId: string; readonly duplicate: boolean; readonly ageMs: number }[] = [];
  uploadsInFlight = 0;
  readonly #ids = new Set<string>();
  readonly #progress = new Map<string, RunProgress>();

  /** Records one delivery; state advances only on an event id's first delivery. */
  observe(event: AnyEvent): void {
    this.seen.push({ event, at: Date.now() });
    if (this.#ids.has(event.id)) return;
    this.#ids.add(event.id);
    const data = event.data as { runId?: string };
    if (data.runId === undefined) return;
    const p = this.progress(data.runId);
    switch (event.type) {
      case EventTypes.DataArrived:
        p.dataArrived = true;
        p.planTargets = event.data.plan.targets.map((t: EndpointTarget) => targetKey(t));
        break;
      case EventTypes.ModelTrained:
        p.trained = true;
        break;
      case EventTypes.TrainingFailed:
        p.trainingFailed = true;
        break;
      case EventTypes.ModelApproved:
        p.verdict = "approved";
        break;
      case EventTypes.ModelRejected:
        p.verdict = "rejected";
        break;
      case EventTypes.ModelAwaitingApproval:
        p.verdict ??= "awaiting";
        break;
      case EventTypes.EndpointUpdated:
        p.outcomes.set(targetKey(event.data.target), "updated");
        break;
      case EventTypes.PromotionFailed:
        if (!p.outcomes.has(targetKey(event.data.target))) p.outcomes.set(targetKey(event.data.target), "failed");
        break;
      default:
        break;
    }
    // After any event of the run: a consumer may see them out of order (a DataArrived redelivered after a
    // broker restart can come last, and it is what names the plan's targets).
    this.#markTerminal(data.runId);
  }

  progress(runId: string): RunProgress {
    let p = this.#progress.get(runId);
    if (p === undefined) {
      p = { dataArrived: false, trained: false, trainingFailed: false, outcomes: new Map(), planTargets: [] };
      this.#progress.set(runId, p);
    }
    return p;
  }

  /** True once the run ended: training failed, rejected, or every target of its plan has an outcome. */
  isTerminal(runId: string): boolean {
    const p = this.#progress.get(runId);
    if (p === undefined) return false;
    if (p.trainingFailed || p.verdict === "rejected") return true;
    return p.verdict === "approved" && p.planTargets.length > 0 && p.planTargets.every((t) => p.outcomes.has(t));
  }

  #markTerminal(runId: string): void {
    if (!this.isTerminal(runId)) return;
    const run = this.runs.find((r) => r.runId === runId);
    if (run !== undefined) run.terminalAt ??= Date.now();
  }

  /** Runs accepted and not terminal. */
  inFlight(): SentRun[] {
    return this.runs.filter((r) => r.runId !== undefined && !this.isTerminal(r.runId));
  }

  /** Whether {@link workInProgress} can tell when `service` is working (services it has no stage for are never killed). */
  tracks(service: string): boolean {
    return TRACKED.has(service);
  }

  /**
   * The work a service has in progress now, from the ledger alone: a stage whose input event was
   * seen and whose outcome was not. Undefined when the service is idle.
   */
  workInProgress(service: string): { handler: string; runs: string[] } | undefined {
    const active = this.inFlight().flatMap((r) => (r.runId !== undefined ? [{ runId: r.runId, p: this.progress(r.runId) }] : []));
    const pick = (handler: string, runs: string[]) => (runs.length > 0 ? { handler, runs } : undefined);
    const promoting = (kind: "classic" | "new") =>
      active.filter(({ p }) => p.verdict === "approved" && p.planTargets.some((t) => t.startsWith(`${kind}:`) && !p.outcomes.has(t))).map((a) => a.runId);
    switch (service) {
      case "ingestion":
        return this.uploadsInFlight > 0 ? { handler: "ingestion: PUT /v1/pipelines/{name}/datasets (upload → DataArrived)", runs: [] } : undefined;
      case "trainer":
        return pick("trainer: DataArrived → BES job → ModelTrained", active.filter(({ p }) => p.dataArrived && !p.trained && !p.trainingFailed).map((a) => a.runId));
      case "evaluator":
        return pick("evaluator: ModelTrained → champion scoring → verdict", active.filter(({ p }) => p.trained && p.verdict === undefined).map((a) => a.runId));
      case "classic-promoter":
        return pick("classic-promoter: ModelApproved → PATCH endpoint → EndpointUpdated", promoting("classic"));
      case "new-promoter":
        return pick("new-promoter: ModelApproved → ARM PATCH → EndpointUpdated", promoting("new"));
      case "scoring": {
        const runs = [...promoting("classic"), ...promoting("new"), ...active.filter(({ p }) => p.trained && p.verdict === undefined).map((a) => a.runId)];
        return pick("scoring: model change (PATCH/ARM) or champion scoring for the evaluator", [...new Set(runs)]);
      }
      case "registry":
        return pick("registry: run events → log and projections", active.filter(({ p }) => p.dataArrived).map((a) => a.runId));
      default:
        return undefined;
    }
  }

  /** Distinct events of one type for a run (by event id), in arrival order. */
  eventsOf<T extends AnyEvent["type"]>(runId: string, type: T): Extract<AnyEvent, { type: T }>[] {
    const out: Extract<AnyEvent, { type: T }>[] = [];
    const ids = new Set<string>();
    for (const { event } of this.seen) {
      if (event.type !== type || (event.data as { runId?: string }).runId !== runId || ids.has(event.id)) continue;
      ids.add(event.id);
      out.push(event as Extract<AnyEvent, { type: T }>);
    }
    return out;
  }
}
