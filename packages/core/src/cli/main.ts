#!/usr/bin/env node
/**
 * The `async-tools` bin: the table's commands through the one dispatcher, on this process's stdout, stderr,
 * environment and signals. Logs go to stderr; `jobs`, `store info` and help print on stdout.
 */
import { AsyncToolsError } from "../errors.ts";
import { cliContext } from "./command.ts";
import { run } from "./run.ts";

// The library's own log lines stay at `warn` unless ASYNC_TOOLS_LOG says otherwise: output is the command's.
process.env.ASYNC_TOOLS_LOG ??= "warn";
// Run as `pnpm async-tools …` from the repository root, relative paths mean the caller's directory.
if (process.env.npm_lifecycle_event === "async-tools" && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

run(process.argv.slice(2), cliContext(process)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = error instanceof AsyncToolsError ? ` (${error.code})` : "";
    process.stderr.write(`async-tools${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
