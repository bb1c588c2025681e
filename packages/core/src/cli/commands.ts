/**
 * The one table of the `async-tools` bin's commands. A new command is a file with one {@link Command} and a
 * line here; `run.ts` dispatches, parses help and maps errors for all of them.
 */
import type { Command } from "./command.ts";
import { dashboardCommand } from "./dashboard.ts";
import { JOBS_COMMANDS } from "./jobs.ts";
import { storeInfo } from "./store-info.ts";
import { storeInit } from "./store-init.ts";
import { storeServe } from "./store-serve.ts";

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  ...JOBS_COMMANDS,
  storeInfo,
  dashboardCommand,
  storeServe,
  storeInit,
];
