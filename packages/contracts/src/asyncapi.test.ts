import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { eventTypes, renderAsyncApiYaml } from "./index.js";

describe("the AsyncAPI document", () => {
  it("is a valid AsyncAPI 3.0 document with a channel and a message per event type", async () => {
    const parser = new Parser();
    const { document, diagnostics } = await parser.parse(renderAsyncApiYaml());
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((d) => `${d.path.join(".")}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
    expect(document?.version()).toBe("3.0.0");
    expect(document?.channels().length).toBe(eventTypes.length);
    expect(document?.messages().length).toBe(eventTypes.length);
    const addresses = document?.channels().all().map((c) => c.address()) ?? [];
    for (const type of eventTypes) expect(addresses).toContain(`{prefix}.${type}`);
  });

  it("is current in docs/asyncapi.yaml (regenerate with `pnpm asyncapi`)", () => {
    const checkedIn = readFileSync(join(__dirname, "..", "..", "..", "docs", "asyncapi.yaml"), "utf8");
    expect(checkedIn).toBe(renderAsyncApiYaml());
  });
});
