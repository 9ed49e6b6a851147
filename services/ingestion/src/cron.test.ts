import { CronSyntaxError, cronMatches, parseCron, tickOf } from "./cron.js";

const at = (iso: string) => new Date(iso);

describe("cron matcher", () => {
  it("matches lists, ranges and steps per field", () => {
    const every15 = parseCron("*/15 8-18 * * 1-5");
    expect(cronMatches(every15, at("2026-03-02T08:15:00Z"))).toBe(true); // Monday
    expect(cronMatches(every15, at("2026-03-02T08:16:00Z"))).toBe(false);
    expect(cronMatches(every15, at("2026-03-02T19:00:00Z"))).toBe(false);
    expect(cronMatches(every15, at("2026-03-01T08:15:00Z"))).toBe(false); // Sunday
    const list = parseCron("0,30 2 1,15 1-3 *");
    expect(cronMatches(list, at("2026-02-15T02:30:00Z"))).toBe(true);
    expect(cronMatches(list, at("2026-04-15T02:30:00Z"))).toBe(false);
    expect(cronMatches(parseCron("5/20 * * * *"), at("2026-02-15T02:45:00Z"))).toBe(true);
    expect(cronMatches(parseCron("5/20 * * * *"), at("2026-02-15T02:50:00Z"))).toBe(false);
  });

  it("ORs day of month and day of week when both are restricted, and takes 7 as Sunday", () => {
    const either = parseCron("0 0 13 * 5");
    expect(cronMatches(either, at("2026-02-13T00:00:00Z"))).toBe(true); // Friday the 13th
    expect(cronMatches(either, at("2026-03-13T00:00:00Z"))).toBe(true); // a Friday, day 13
    expect(cronMatches(either, at("2026-03-06T00:00:00Z"))).toBe(true); // a Friday
    expect(cronMatches(either, at("2026-03-12T00:00:00Z"))).toBe(false);
    expect(cronMatches(parseCron("0 0 * * 7"), at("2026-03-01T00:00:00Z"))).toBe(true);
  });

  it("refuses malformed expressions naming the field", () => {
    expect(() => parseCron("* * * *")).toThrow(CronSyntaxError);
    expect(() => parseCron("60 * * * *")).toThrow(/minute/);
    expect(() => parseCron("* 5-2 * * *")).toThrow(/hour/);
    expect(() => parseCron("* * * * mon")).toThrow(/day of week/);
    expect(() => parseCron("*/0 * * * *")).toThrow(/step/);
  });

  it("names a tick by its minute", () => {
    expect(tickOf(at("2026-03-02T08:15:42.123Z"))).toBe("2026-03-02T08:15:00.000Z");
  });
});
