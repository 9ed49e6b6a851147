import type { CommandGroup } from "../program.js";
import { formatDuration, table } from "../output.js";

/** A stage of a run's timeline as the registry answers it (GET /v1/runs/{id}). */
interface TimelineStage {
  readonly stage: string;
  readonly at: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly target?: string;
  readonly detail?: string;
}

interface Timeline {
  readonly runId: string;
  readonly pipeline: string;
  readonly runSequence: number;
  readonly outcome: string;
  readonly totalMs: number | null;
  readonly stages: readonly TimelineStage[];
}

/** A span the registry received over OTLP (GET /v1/runs/{id}/spans). */
interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly serviceName: string;
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly status: { readonly code: string; readonly message?: string };
  readonly kind?: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** One row of the waterfall. */
export interface WaterfallRow {
  readonly stage: string;
  readonly service: string;
  /** Since the run's first event, ms. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly outcome: "ok" | "error" | "waiting";
  readonly detail?: string;
}

/** Which service produced a stage of the timeline. */
function serviceOf(stage: TimelineStage): string {
  switch (stage.stage) {
    case "received":
      return "ingestion";
    case "trained":
    case "failed":
      return "trainer";
    case "approved":
    case "rejected":
    case "awaiting":
      return "evaluator";
    case "updated":
    case "promotion-failed":
      return stage.target?.startsWith("new:") === true ? "new-promoter" : "classic-promoter";
    default:
      return "registry";
  }
}

function outcomeOf(stage: TimelineStage): WaterfallRow["outcome"] {
  if (["received", "trained", "approved", "updated"].includes(stage.stage)) return "ok";
  return stage.stage === "awaiting" ? "waiting" : "error";
}

/** The entry a stage began at: training from receipt, evaluation from training (or the wait for approval), promotion from approval. */
function beginOf(stages: readonly TimelineStage[], index: number): TimelineStage {
  const stage = stages[index] as TimelineStage;
  const lastBefore = (names: readonly string[]): TimelineStage | undefined => {
    for (let i = index - 1; i >= 0; i--) if (names.includes((stages[i] as TimelineStage).stage)) return stages[i];
    return undefined;
  };
  switch (stage.stage) {
    case "received":
      return stage;
    case "trained":
    case "failed":
      return lastBefore(["received"]) ?? stage;
    case "awaiting":
      return lastBefore(["trained"]) ?? stage;
    case "approved":
    case "rejected":
      return lastBefore(["awaiting", "trained"]) ?? stage;
    case "updated":
    case "promotion-failed":
      return lastBefore(["approved"]) ?? stage;
    default:
      return stages[index - 1] ?? stage;
  }
}

/** The run's stages as waterfall rows: each with its service, start offset, duration and outcome. */
export function waterfallRows(stages: readonly TimelineStage[]): WaterfallRow[] {
  const first = stages[0] === undefined ? 0 : Date.parse(stages[0].at);
  return stages.map((stage, index) => {
    const begin = Date.parse(beginOf(stages, index).at);
    return {
      stage: stage.target === undefined ? stage.stage : `${stage.stage} ${stage.target.replace(/^(classic|new):/, "")}`,
      service: serviceOf(stage),
      startMs: begin - first,
      durationMs: Date.parse(stage.at) - begin,
      outcome: outcomeOf(stage),
      ...(stage.detail !== undefined ? { detail: stage.detail } : {}),
    };
  });
}

/** Messaging spans are named after the subject: show the event type; a client span gets the path it called. */
function spanName(span: Span): string {
  const messaging = /^(publish|process|receive|settle) (.*)$/.exec(span.name);
  if (messaging !== null) {
    const destination = messaging[2] ?? "";
    const at = destination.indexOf("retrain.");
    return `${messaging[1] ?? ""} ${at >= 0 ? destination.slice(at) : destination}`;
  }
  const url = span.attributes?.["url.full"];
  if (span.kind === "client" && typeof url === "string" && URL.canParse(url)) return `${span.name} ${new URL(url).pathname}`;
  return span.name;
}

const BAR_WIDTH = 32;

/** `   ███████       `: where [start, start+duration] falls in [0, total], on a fixed width. */
function bar(startMs: number, durationMs: number, totalMs: number): string {
  const total = Math.max(1, totalMs);
  const from = Math.min(BAR_WIDTH - 1, Math.floor((startMs / total) * BAR_WIDTH));
  const to = Math.max(from + 1, Math.min(BAR_WIDTH, Math.ceil(((startMs + durationMs) / total) * BAR_WIDTH)));
  return `|${" ".repeat(from)}${"█".repeat(to - from)}${" ".repeat(BAR_WIDTH - to)}|`;
}

/** Spans in tree order (each after its parent, children by start), with their depth. */
function spanTree(spans: readonly Span[]): Array<{ span: Span; depth: number }> {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const span of spans) {
    if (span.parentSpanId !== undefined && ids.has(span.parentSpanId)) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else {
      roots.push(span);
    }
  }
  const ordered: Array<{ span: Span; depth: number }> = [];
  const byStart = (a: Span, b: Span) => a.startTimeMs - b.startTimeMs || b.durationMs - a.durationMs;
  const walk = (span: Span, depth: number): void => {
    ordered.push({ span, depth });
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) walk(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) walk(root, 0);
  return ordered;
}

/** `retrain trace <run>`: the run as a text waterfall, from the registry's events (and its spans, when services export to it). */
export const registerTrace: CommandGroup = (program, context) => {
  program
    .command("trace")
    .argument("<run>", "run id")
    .description("show a run as a waterfall: each stage with its service, start offset, duration and outcome (and the services' spans, when they export OTLP to the registry)")
    .action(async (runId: string, _options: unknown, command) => {
      const ctx = context(command);
      const api = ctx.api("registry");
      const run = (await api.get<Timeline>(`/v1/runs/${encodeURIComponent(runId)}`)).body;
      // A registry that receives no spans (or predates the receiver) answers 404: the events alone make the waterfall.
      const spansAnswer = await api.get<{ traceIds?: string[]; value?: Span[] }>(`/v1/runs/${encodeURIComponent(runId)}/spans`, { accept: [404] });
      const spans = spansAnswer.status === 200 ? (spansAnswer.body.value ?? []) : [];
      const traceIds = spansAnswer.status === 200 ? (spansAnswer.body.traceIds ?? []) : [];
      const rows = waterfallRows(run.stages);
      const first = run.stages[0] === undefined ? 0 : Date.parse(run.stages[0].at);
      const origin = Math.min(first, ...spans.map((s) => s.startTimeMs));
      const end = Math.max(first + (run.totalMs ?? 0), ...spans.map((s) => s.startTimeMs + s.durationMs));
      const total = end - origin;
      const shift = first - origin;
      const lines = [
        `run ${run.runId} · pipeline ${run.pipeline} #${run.runSequence} · ${run.outcome} · ${formatDuration(run.totalMs)}`,
        "",
        table(
          // With spans, offsets count from the earliest of them (the upload's request), so both tables share one clock.
          rows.map((r) => [r.stage, r.service, `+${formatDuration(r.startMs + shift)}`, formatDuration(r.durationMs), r.outcome, bar(r.startMs + shift, r.durationMs, total)]),
          ["STAGE", "SERVICE", "START", "DURATION", "OUTCOME", "WATERFALL"],
        ),
      ];
      for (const row of rows) if (row.outcome === "error" && row.detail !== undefined) lines.push(`  ${row.stage}: ${row.detail}`);
      if (spans.length > 0) {
        lines.push("", `spans (${spans.length}, trace ${traceIds.join(", ")})`, "");
        const tree = spanTree(spans);
        lines.push(
          table(
            tree.map(({ span, depth }) => [
              `${"  ".repeat(Math.min(depth, 12))}${spanName(span)}`,
              span.serviceName.replace(/^retrain-/, ""),
              `+${formatDuration(span.startTimeMs - origin)}`,
              formatDuration(span.durationMs),
              span.status.code === "error" ? "error" : "ok",
              bar(span.startTimeMs - origin, span.durationMs, total),
            ]),
            ["SPAN", "SERVICE", "START", "DURATION", "OUTCOME", "WATERFALL"],
          ),
        );
        for (const { span } of tree) if (span.status.code === "error" && span.status.message !== undefined) lines.push(`  ${spanName(span)} (${span.serviceName.replace(/^retrain-/, "")}): ${span.status.message}`);
      } else {
        lines.push("", "no spans received for this run (export OTLP/HTTP JSON to the registry's /v1/traces to see them here)");
      }
      ctx.out.result({ runId: run.runId, pipeline: run.pipeline, runSequence: run.runSequence, outcome: run.outcome, totalMs: run.totalMs, stages: rows, traceIds, spans }, lines);
    });
};
