// TEST SUPPORT ONLY: subscription rules of the Service Bus test peer. Real Service Bus evaluates
// these on the broker; the peer implements the subset Retrain and its conformance tests use.
import type { Message } from "rhea";

/** A correlation filter: every field given must equal the message's (application properties by name). */
export interface PeerCorrelationFilter {
  readonly kind: "correlation";
  readonly correlationId?: string;
  readonly messageId?: string;
  readonly subject?: string;
  readonly contentType?: string;
  readonly to?: string;
  readonly replyTo?: string;
  readonly sessionId?: string;
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * A SQL filter. The peer understands `1=1`, `1=0`, and disjunctions (`OR`) of conjunctions (`AND`)
 * of `name = 'value'`, `name IN ('a', 'b')` and `sys.<Label|MessageId|CorrelationId|ContentType>` on the left.
 */
export interface PeerSqlFilter {
  readonly kind: "sql";
  readonly expression: string;
}

/** A rule's filter. */
export type PeerFilter = { readonly kind: "true" } | { readonly kind: "false" } | PeerCorrelationFilter | PeerSqlFilter;

/** Thrown when the peer cannot evaluate a SQL expression (the client gets a `com.microsoft:argument-error`). */
export class UnsupportedFilterError extends Error {
  override readonly name = "UnsupportedFilterError";
  constructor(readonly expression: string) {
    super(`the test peer does not understand the SQL filter "${expression}"`);
  }
}

type Condition = (message: Message) => boolean;

/** Compiles a filter once (a SQL expression is parsed when the rule is added, as the broker would). */
export function compileFilter(filter: PeerFilter): Condition {
  switch (filter.kind) {
    case "true":
      return () => true;
    case "false":
      return () => false;
    case "correlation":
      return (m) => correlationMatches(filter, m);
    case "sql":
      return compileSql(filter.expression);
  }
}

function correlationMatches(filter: PeerCorrelationFilter, m: Message): boolean {
  const system: Array<[string | undefined, unknown]> = [
    [filter.correlationId, m.correlation_id],
    [filter.messageId, m.message_id],
    [filter.subject, m.subject],
    [filter.contentType, m.content_type],
    [filter.to, m.to],
    [filter.replyTo, m.reply_to],
    [filter.sessionId, m.group_id],
  ];
  for (const [wanted, actual] of system) {
    if (wanted !== undefined && wanted !== null && String(actual) !== wanted) return false;
  }
  const props: Record<string, unknown> = m.application_properties ?? {};
  for (const [name, value] of Object.entries(filter.properties ?? {})) {
    if (props[name] !== value) return false;
  }
  return true;
}

function compileSql(expression: string): Condition {
  const text = expression.trim();
  if (/^1\s*=\s*1$/.test(text)) return () => true;
  if (/^1\s*=\s*0$/.test(text)) return () => false;
  const alternatives = text.split(/\s+OR\s+/i).map((alternative) => alternative.split(/\s+AND\s+/i).map((c) => compileComparison(c.trim(), expression)));
  return (m) => alternatives.some((all) => all.every((condition) => condition(m)));
}

const COMPARISON = /^(\[[^\]]+\]|[A-Za-z_][\w.-]*)\s*(=|IN)\s*(.+)$/i;
const LITERAL = /^'((?:[^']|'')*)'$/;

function compileComparison(text: string, expression: string): Condition {
  const match = COMPARISON.exec(text.replace(/^\((.*)\)$/, "$1"));
  if (match === null) throw new UnsupportedFilterError(expression);
  const [, rawName = "", operator = "", rawValue = ""] = match;
  const name = rawName.startsWith("[") ? rawName.slice(1, -1) : rawName;
  const read = reader(name);
  const values =
    operator.toUpperCase() === "IN"
      ? rawValue
          .trim()
          .replace(/^\((.*)\)$/, "$1")
          .split(",")
          .map((v) => literal(v.trim(), expression))
      : [literal(rawValue.trim(), expression)];
  return (m) => {
    const actual = read(m);
    return actual !== undefined && values.includes(String(actual));
  };
}

function literal(text: string, expression: string): string {
  const quoted = LITERAL.exec(text);
  if (quoted !== null) return (quoted[1] ?? "").replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(text)) return text;
  throw new UnsupportedFilterError(expression);
}

function reader(name: string): (m: Message) => unknown {
  const system = /^sys\.(.+)$/i.exec(name)?.[1]?.toLowerCase();
  if (system !== undefined) {
    const field = { label: "subject", messageid: "message_id", correlationid: "correlation_id", contenttype: "content_type", to: "to", replyto: "reply_to" }[system];
    if (field === undefined) throw new UnsupportedFilterError(name);
    return (m) => (m as unknown as Record<string, unknown>)[field];
  }
  const property = name.replace(/^user\./i, "");
  return (m) => (m.application_properties as Record<string, unknown> | undefined)?.[property];
}
