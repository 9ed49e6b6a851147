// One jest for the whole workspace. Tests run from TypeScript source through @swc/jest (CommonJS
// in the test VM), and @retrain/* imports resolve to each package's src/ so no build is needed first.
const { readdirSync, existsSync, readFileSync } = require("node:fs");
const path = require("node:path");

const workspaceModules = {};
for (const group of ["packages", "services"]) {
  const root = path.join(__dirname, group);
  if (!existsSync(root)) continue;
  for (const dir of readdirSync(root)) {
    const manifest = path.join(root, dir, "package.json");
    if (!existsSync(manifest)) continue;
    const { name } = JSON.parse(readFileSync(manifest, "utf8"));
    workspaceModules[`^${name.replace("/", "\\/")}$`] = path.join(root, dir, "src", "index.ts");
    // A package's test-support door (`@retrain/x/testing`), where it has one.
    if (existsSync(path.join(root, dir, "src", "testing.ts"))) {
      workspaceModules[`^${name.replace("/", "\\/")}\\/testing$`] = path.join(root, dir, "src", "testing.ts");
    }
  }
}

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/packages", "<rootDir>/services", "<rootDir>/test"].filter((r) =>
    existsSync(r.replace("<rootDir>", __dirname)),
  ),
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } },
    ],
  },
  moduleNameMapper: {
    ...workspaceModules,
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  testTimeout: 30000,
};
