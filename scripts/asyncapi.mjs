// Regenerates docs/asyncapi.yaml from the contracts package (built first by `pnpm asyncapi`).
import { writeFileSync } from "node:fs";
import { renderAsyncApiYaml } from "../packages/contracts/dist/index.js";

writeFileSync(new URL("../docs/asyncapi.yaml", import.meta.url), renderAsyncApiYaml());
console.log("wrote docs/asyncapi.yaml");
