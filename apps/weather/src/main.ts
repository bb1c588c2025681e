#!/usr/bin/env node
/**
 * Entry of the weather server: `pnpm start` runs it from source; `dist/cli/main.js`, this file bundled with
 * its dependencies, is what the published bin loads once it has checked the Node version. See `cli.ts` for
 * the flags.
 */
import { main } from "./cli.ts";

main(process.argv.slice(2)).catch((error: unknown) => {
  // One line a person can act on; the stack only helps with ASYNC_TOOLS_LOG=debug.
  process.stderr.write(`async-tools-weather: ${error instanceof Error ? error.message : String(error)}\n`);
  if (process.env.ASYNC_TOOLS_LOG === "debug" && error instanceof Error)
    process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
