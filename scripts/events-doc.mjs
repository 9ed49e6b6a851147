// Regenerates docs/events.md from the contracts package (built first by `pnpm events-doc`), keeping
// the hand-written part between its markers.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { preservedSection, renderEventsMarkdown } from "../packages/contracts/dist/index.js";

const target = new URL("../docs/events.md", import.meta.url);
const current = existsSync(target) ? readFileSync(target, "utf8") : "";
const preserved = preservedSection(current);
writeFileSync(target, renderEventsMarkdown(preserved === undefined ? {} : { preserved }));
console.log("wrote docs/events.md");
