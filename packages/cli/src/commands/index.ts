// Every command group of `retrain`, one file each. Add a group here and in its own file.
import type { CommandGroup } from "../program.js";
import { registerApprovals } from "./approvals.js";
import { registerDlq } from "./dlq.js";
import { registerHistory } from "./history.js";
import { registerOperators } from "./operators.js";
import { registerPipelines } from "./pipelines.js";
import { registerRuns } from "./runs.js";
import { registerScore } from "./score.js";
import { registerServices } from "./services.js";
import { registerStatus } from "./status.js";
import { registerSubscriptions } from "./subscriptions.js";
import { registerTrace } from "./trace.js";
import { registerUpload } from "./upload.js";

export const commandGroups: readonly CommandGroup[] = [
  registerStatus,
  registerPipelines,
  registerUpload,
  registerRuns,
  registerApprovals,
  registerServices,
  registerHistory,
  registerScore,
  registerSubscriptions,
  registerDlq,
  registerOperators,
  registerTrace,
];
