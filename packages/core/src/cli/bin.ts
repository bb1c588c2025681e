#!/usr/bin/env node
/**
 * The `async-tools` executable: runs the CLI with the process's arguments, stdout and stderr. The library's
 * own log lines stay at `warn` unless ASYNC_TOOLS_LOG says otherwise, so output is the command's alone.
 */
import { main } from "./main.ts";

process.env.ASYNC_TOOLS_LOG ??= "warn";
// Run as `pnpm async-tools …` from the repository root, relative paths mean the caller's directory.
if (process.env.npm_lifecycle_event === "async-tools" && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

const stopped = new Promise<void>((resolve) => {
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});
const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  now: () => Date.now(),
  stopped,
});
process.exitCode = code;
process.exit();
