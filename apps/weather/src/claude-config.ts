#!/usr/bin/env node
/**
 * `pnpm --silent --filter @async-tools/weather config:claude`: prints the `claude_desktop_config.json` entry
 * that runs this checkout's weather server from source with this Node, and where that file lives. (`--silent`
 * keeps pnpm's own banner off stdout; the installed package prints its entry with `--print-config claude`.)
 */
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..", "..");

const entry = {
  mcpServers: {
    weather: {
      command: process.execPath,
      args: ["--conditions=@async-tools/source", join(root, "apps", "weather", "src", "main.ts")],
      env: { ASYNC_TOOLS_STORE: join(root, ".async-tools", "jobs.db") },
    },
  },
};

process.stdout.write(`${JSON.stringify(entry, null, 2)}\n`);
// On stderr, so that stdout stays pure JSON for `config:claude > entry.json`.
process.stderr.write(
  "Merge this into claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: " +
    "%APPDATA%\\Claude\\, Linux: ~/.config/Claude/), then restart Claude Desktop.\n",
);
