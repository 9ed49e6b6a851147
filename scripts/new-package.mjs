// One-off scaffolder kept for new packages: writes package.json + tsconfig.json alike for every package.
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
const [dir, description, depsJson = "{}", refsJson = "[]"] = process.argv.slice(2);
const name = "@retrain/" + dir.split("/").pop();
const deps = JSON.parse(depsJson);
const refs = JSON.parse(refsJson);
mkdirSync(`${dir}/src`, { recursive: true });
const pkg = {
  name, version: "0.1.0", private: true, description, type: "module",
  exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
  main: "./dist/index.js", types: "./dist/index.d.ts",
  files: ["dist"],
  dependencies: deps,
};
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
const depth = dir.split("/").length;
const up = "../".repeat(depth);
const ts = {
  extends: `${up}tsconfig.base.json`,
  compilerOptions: { rootDir: "src", outDir: "dist", tsBuildInfoFile: "dist/.tsbuildinfo" },
  include: ["src"],
  references: refs.map((r) => ({ path: `${up}${r}` })),
};
writeFileSync(`${dir}/tsconfig.json`, JSON.stringify(ts, null, 2) + "\n");
if (!existsSync(`${dir}/src/index.ts`)) writeFileSync(`${dir}/src/index.ts`, "export {};\n");
