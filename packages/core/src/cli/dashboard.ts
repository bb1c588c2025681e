/**
 * `async-tools dashboard`: serves the live web dashboard of a store on 127.0.0.1.
 */

import type { Command } from "./context.ts";
import { EXIT } from "./open-store.ts";

/** Runs `dashboard`. */
export const dashboardCommand: Command = async (_args, ctx) => {
  ctx.err("The dashboard is not built yet.");
  return EXIT.failed;
};
