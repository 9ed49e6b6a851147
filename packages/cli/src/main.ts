#!/usr/bin/env node
// The `retrain` command: wiring only.
import { readCliEnvironment } from "./config.js";
import { processIo } from "./output.js";
import { runCli } from "./program.js";

process.exitCode = await runCli(process.argv.slice(2), readCliEnvironment(), processIo);
