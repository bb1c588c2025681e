#!/usr/bin/env node
/**
 * The `async-tools` bin. Logs and help go to stderr; `jobs`, `store info` and `dashboard` print their
 * output on stdout.
 */
import { AsyncToolsError } from "../errors.ts";
import { type Command, help, match } from "./args.ts";
import { type CliContext, cliContext } from "./context.ts";
import { run } from "./run.ts";
import { storeInit } from "./store-init.ts";
import { storeServe } from "./store-serve.ts";

/** A command the operator's dispatcher (`run.ts`) answers, with its words after `async-tools`. */
function operatorCommand(path: string[], usage: string, summary: string): Command {
  return {
    path,
    usage,
    summary,
    options: {},
    args: "own",
    run: (_values, rest) => run([...path, ...rest], processContext()),
  };
}

/** The commands, most specific path first wins (`store serve` before `store`). */
export const COMMANDS: Command[] = [
  storeServe,
  storeInit,
  operatorCommand(
    ["jobs"],
    "async-tools jobs list|show ID|cancel ID|retry ID|answer ID|prune [--store PATH] [--json]",
    "look at and manage the jobs of a store, stopped or owned by a running server (async-tools jobs --help)",
  ),
  operatorCommand(
    ["store", "info"],
    "async-tools store info [--store PATH] [--json]",
    "where the store is, its size, jobs by status",
  ),
  operatorCommand(
    ["dashboard"],
    "async-tools dashboard [--store PATH] [--port N]",
    "a live web dashboard of the store's jobs, on 127.0.0.1",
  ),
];

/** The CLI context of this process: stdout, stderr, its environment, and Ctrl-C to stop. */
function processContext(): CliContext {
  // The library's own log lines stay at `warn` unless ASYNC_TOOLS_LOG says otherwise: output is the command's.
  process.env.ASYNC_TOOLS_LOG ??= "warn";
  // Run as `pnpm async-tools …` from the repository root, relative paths mean the caller's directory.
  if (process.env.npm_lifecycle_event === "async-tools" && process.env.INIT_CWD)
    process.chdir(process.env.INIT_CWD);
  return cliContext(process);
}

async function main(argv: string[]): Promise<number> {
  let matched: ReturnType<typeof match>;
  try {
    matched = match(COMMANDS, argv);
  } catch (error) {
    process.stderr.write(
      `async-tools: ${error instanceof Error ? error.message : String(error)}\n\n${help(COMMANDS)}`,
    );
    return 2;
  }
  if (matched === undefined || matched.values.help === true) {
    process.stderr.write(help(COMMANDS));
    return matched === undefined && argv.length > 0 && argv[0] !== "--help" && argv[0] !== "-h" ? 2 : 0;
  }
  const code = await matched.command.run(matched.values, matched.rest);
  return typeof code === "number" ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = error instanceof AsyncToolsError ? ` (${error.code})` : "";
    process.stderr.write(`async-tools${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
