import { readFileSync } from "node:fs";
import { join } from "node:path";
import { catalog, eventTypes, parseEvent } from "./index.js";
import { documentedEvents, EVENTS_DOC_MARKERS, preservedSection, renderEventsMarkdown, undocumentedFields } from "./events-doc.js";

const eventsMd = join(__dirname, "..", "..", "..", "docs", "events.md");

describe("docs/events.md", () => {
  it("is current: the AsyncAPI document rendered, with the hand-written part kept (regenerate with `pnpm events-doc`)", () => {
    const checkedIn = readFileSync(eventsMd, "utf8");
    const preserved = preservedSection(checkedIn);
    expect(preserved).toBeDefined();
    expect(checkedIn).toBe(renderEventsMarkdown(preserved === undefined ? {} : { preserved }));
  });

  it("has a section, an index row and a valid example for every event type of the catalog", () => {
    const markdown = renderEventsMarkdown();
    const documented = documentedEvents();
    expect(documented.map((e) => e.type)).toEqual([...eventTypes]);
    for (const type of eventTypes) {
      const name = catalog[type].name;
      expect(markdown).toContain(`## ${name}\n`);
      expect(markdown).toContain(`| [${name}](#${name.toLowerCase()}) | \`${type}\` |`);
    }
    for (const event of documented) expect(parseEvent(event.example).type).toBe(event.type);
  });

  it("gives every field of every event its type and meaning", () => {
    expect(undocumentedFields()).toEqual([]);
    const updated = documentedEvents().find((e) => e.name === "EndpointUpdated");
    expect(updated?.fields).toEqual(
      expect.arrayContaining([
        { path: "revision", type: "integer > 0", required: true, meaning: expect.stringContaining("revision") },
        { path: "target.endpoint", variant: "kind = classic", type: "string", required: true, meaning: expect.any(String) },
        { path: "kind", type: '`"promotion"` \\| `"rollback"`', required: true, meaning: expect.stringContaining("rollback") },
      ]),
    );
  });

  it("keeps the hand-written part between its markers across regenerations", () => {
    const once = renderEventsMarkdown({ preserved: "## Recipes\n\nkept *as is*" });
    expect(preservedSection(once)).toBe("## Recipes\n\nkept *as is*");
    expect(renderEventsMarkdown({ preserved: preservedSection(once) ?? "" })).toBe(once);
    expect(once.indexOf(EVENTS_DOC_MARKERS.begin)).toBeLessThan(once.indexOf(EVENTS_DOC_MARKERS.end));
    expect(preservedSection("no markers")).toBeUndefined();
  });
});
