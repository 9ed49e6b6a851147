// Every command group of `retrain`, one file each. Add a group here and in its own file.
import type { CommandGroup } from "../program.js";
import { registerStatus } from "./status.js";

export const commandGroups: readonly CommandGroup[] = [registerStatus];
