/**
 * The operator's commands of the `async-tools` bin (`jobs …`, `store info`, `dashboard`): a small dispatcher
 * from the first word to a command. Each command lives in its own file and gets the same {@link CliContext},
 * so tests run it in process. The bin (`main.ts`) routes these words here; `store serve` is its own.
 */
import { AsyncToolsError } from "../errors.ts";
import type { CliContext, Command } from "./context.ts";
import { dashboardCommand } from "./dashboard.ts";
import { jobsCommand } from "./jobs.ts";
import { CliError, EXIT } from "./open-store.ts";
import { storeCommand } from "./store-info.ts";

export const USAGE = `Usage: async-tools <command> [options]

Commands:
  store serve --store PATH            serve a store file to the servers of this host (async-tools --help)
  jobs list|show|cancel|retry|prune   look at and manage jobs (async-tools jobs --help)
  store info                          where the store is, its size, jobs by status
  dashboard [--port N]                a live web dashboard of the jobs, on 127.0.0.1

Every command takes --store PATH (default: ASYNC_TOOLS_STORE, then the default store file)
and --json for machine-readable output. See docs/cli.md.`;

/** The commands, by their first word. */
export const COMMANDS: Record<string, Command> = {
  jobs: jobsCommand,
  store: storeCommand,
  dashboard: dashboardCommand,
};

/** Runs the operator's command in `argv` (without `node` and the script) and returns the exit code. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    ctx.out(USAGE);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    ctx.err(`Unknown command ${name}.\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await command(rest, ctx);
  } catch (error) {
    if (error instanceof CliError) {
      ctx.err(error.message);
      return error.exitCode;
    }
    if (error instanceof AsyncToolsError) {
      ctx.err(error.message);
      return EXIT.failed;
    }
    throw error;
  }
}
