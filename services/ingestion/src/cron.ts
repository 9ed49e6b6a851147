/** A parsed five-field cron expression (minute hour day-of-month month day-of-week), matched in UTC. */
export interface CronSchedule {
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0-6, Sunday = 0 (7 is accepted as Sunday too). */
  readonly weekdays: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (not `*`): cron ORs them when both are. */
  readonly daysRestricted: boolean;
  readonly weekdaysRestricted: boolean;
}

/** A cron expression that cannot be parsed; names the field. */
export class CronSyntaxError extends Error {
  override readonly name = "CronSyntaxError";
  constructor(
    readonly expression: string,
    readonly field: string,
    message: string,
  ) {
    super(`cron "${expression}": ${field}: ${message}`);
  }
}

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

/** Parses `* , - /` syntax per field (e.g. `*\/15 8-18 * * 1-5`); throws {@link CronSyntaxError}. */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronSyntaxError(expression, "expression", `expected 5 fields, got ${parts.length}`);
  const sets = FIELDS.map((field, i) => parseField(expression, parts[i] ?? "", field));
  const [minutes, hours, days, months, rawWeekdays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const weekdays = new Set([...rawWeekdays].map((d) => d % 7));
  return {
    expression,
    minutes,
    hours,
    days,
    months,
    weekdays,
    daysRestricted: !(parts[2] ?? "").startsWith("*"),
    weekdaysRestricted: !(parts[4] ?? "").startsWith("*"),
  };
}

function parseField(expression: string, text: string, field: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  const fail = (message: string) => new CronSyntaxError(expression, field.name, message);
  for (const item of text.split(",")) {
    const [range = "", stepText, extra] = item.split("/");
    if (extra !== undefined) throw fail(`"${item}" has more than one step`);
    const step = stepText === undefined ? 1 : toInt(stepText);
    if (step === undefined || step < 1) throw fail(`"${item}" has an invalid step`);
    let low: number | undefined;
    let high: number | undefined;
    if (range === "*") {
      low = field.min;
      high = field.max;
    } else {
      const [a = "", b, more] = range.split("-");
      if (more !== undefined) throw fail(`"${item}" is not a range`);
      low = toInt(a);
      // `5/15` means from 5 to the end in steps of 15, as in Vixie cron.
      high = b === undefined ? (stepText === undefined ? low : field.max) : toInt(b);
    }
    if (low === undefined || high === undefined) throw fail(`"${item}" is not a number, range or *`);
    if (low < field.min || high > field.max || low > high) throw fail(`"${item}" is outside ${field.min}-${field.max}`);
    for (let v = low; v <= high; v += step) out.add(v);
  }
  return out;
}

function toInt(text: string): number | undefined {
  return /^\d{1,2}$/.test(text) ? Number(text) : undefined;
}

/** Whether `schedule` fires in the minute of `at` (UTC). */
export function cronMatches(schedule: CronSchedule, at: Date): boolean {
  if (!schedule.minutes.has(at.getUTCMinutes()) || !schedule.hours.has(at.getUTCHours()) || !schedule.months.has(at.getUTCMonth() + 1)) {
    return false;
  }
  const day = schedule.days.has(at.getUTCDate());
  const weekday = schedule.weekdays.has(at.getUTCDay());
  if (schedule.daysRestricted && schedule.weekdaysRestricted) return day || weekday;
  return day && weekday;
}

/** The start of the minute `at` falls in, as an ISO string: the identity of one schedule tick. */
export function tickOf(at: Date): string {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();
}
