import { z } from "zod";
import { ConfigError, envBoolean, envDurationMs, envInt, envNumber, loadConfig, parseDurationMs } from "./index.js";

const Schema = z.object({
  PORT: envInt({ min: 0, max: 65535 }).default(8080),
  HOST: z.string().default("127.0.0.1"),
  API_KEY: z.string().min(16),
  DEBUG: envBoolean().default(false),
  SAMPLE_RATIO: envNumber({ min: 0, max: 1 }).default(1),
  SHUTDOWN_GRACE: envDurationMs({ min: 100 }).default(10_000),
  BUS: z.enum(["nats", "servicebus", "memory"]),
});

describe("loadConfig", () => {
  it("parses typed values and applies defaults", () => {
    const config = loadConfig(Schema, {
      API_KEY: "0123456789abcdef0123",
      DEBUG: "Yes",
      SAMPLE_RATIO: "0.25",
      SHUTDOWN_GRACE: "30s",
      BUS: "nats",
      UNRELATED: "ignored",
    });
    expect(config).toEqual({
      PORT: 8080,
      HOST: "127.0.0.1",
      API_KEY: "0123456789abcdef0123",
      DEBUG: true,
      SAMPLE_RATIO: 0.25,
      SHUTDOWN_GRACE: 30_000,
      BUS: "nats",
    });
  });

  it("reports every invalid variable by name without echoing values", () => {
    const secret = "short-secret";
    let caught: unknown;
    try {
      loadConfig(Schema, {
        PORT: "80a",
        API_KEY: secret,
        DEBUG: "maybe",
        SAMPLE_RATIO: "2",
        SHUTDOWN_GRACE: "soon",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.issues.map((i) => i.variable).sort()).toEqual(
      ["API_KEY", "BUS", "DEBUG", "PORT", "SAMPLE_RATIO", "SHUTDOWN_GRACE"].sort(),
    );
    const problems = Object.fromEntries(error.issues.map((i) => [i.variable, i.problem]));
    expect(problems["PORT"]).toBe("must be an integer");
    expect(problems["BUS"]).toBe("is required but not set");
    expect(problems["DEBUG"]).toContain("must be a boolean");
    expect(problems["SAMPLE_RATIO"]).toBe("must be at most 1");
    expect(problems["SHUTDOWN_GRACE"]).toContain("must be a duration");
    for (const variable of ["PORT", "API_KEY", "DEBUG", "SAMPLE_RATIO", "SHUTDOWN_GRACE", "BUS"]) {
      expect(error.message).toContain(variable);
    }
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.issues)).not.toContain(secret);
  });

  it("reads process.env by default", () => {
    const name = "RETRAIN_SERVICE_KIT_TEST_FLAG";
    process.env[name] = "on";
    try {
      expect(loadConfig(z.object({ [name]: envBoolean() }))).toEqual({ [name]: true });
    } finally {
      delete process.env[name];
    }
  });
});

describe("env helpers", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["30d", 2_592_000_000],
    ["250", 250],
    [" 10 S ", 10_000],
  ])("parses the duration %p", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "-1s", "1w", "s", "1 2s"])("rejects the duration %p", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it("bounds integers and rejects fractions", () => {
    const port = envInt({ min: 1, max: 65535 });
    expect(port.parse("443")).toBe(443);
    expect(port.safeParse("0").success).toBe(false);
    expect(port.safeParse("1.5").success).toBe(false);
    expect(port.safeParse("70000").success).toBe(false);
    expect(envNumber().safeParse("abc").success).toBe(false);
    expect(envBoolean().parse("OFF")).toBe(false);
  });
});
