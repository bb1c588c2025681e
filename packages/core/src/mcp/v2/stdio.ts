/**
 * stdio for the v2 face: the SDK's `serveStdio` (one McpServer per connection from a factory, the era picked
 * by the opening message), behind the same line guard as v1, and closing the runtime when stdin closes, so
 * a host that kills its client and starts the server again gets the store at once.
 */
import type { McpServerFactory } from "@modelcontextprotocol/server";
import {
  type ServeStdioOptions,
  StdioServerTransport,
  serveStdio as sdkServeStdio,
} from "@modelcontextprotocol/server/stdio";
import { DEFAULTS_STDIO } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import type { AsyncTools } from "../../runtime/runtime.ts";
import { LineGuard } from "../stdio-guard.ts";

/** Options of {@link serveStdio}. */
export interface ServeStdioV2Options {
  /** The runtime to close when stdin closes, which releases its store. Pass it; without it only the process exit does. */
  runtime?: AsyncTools;
  /** Where requests come from. Default `process.stdin`. */
  stdin?: NodeJS.ReadableStream;
  /** Where answers go. Default `process.stdout`. */
  stdout?: NodeJS.WritableStream;
  /** Longest line accepted, in bytes; longer ones are answered with an error and skipped. Default 8 MiB. */
  maxLineBytes?: number;
  /** Exit the process once stdin closed and the runtime closed. Default true; `false` for embedders. */
  exitOnClose?: boolean;
  /** How a 2025-11-25 client (`initialize`) is handled: `"serve"` (default) or `"reject"`, as the SDK's option. */
  legacy?: ServeStdioOptions["legacy"];
}

/** What {@link serveStdio} returns. */
export interface StdioServing {
  /** Closes the connection (not the runtime). */
  close(): Promise<void>;
}

/**
 * Serves MCP over stdio with the v2 SDK: `factory` builds an McpServer (call `registerTools` in it) for the
 * connection, in the era the client opens with: 2026-07-28 (`server/discover` or an enveloped request) or
 * 2025-11-25 (`initialize`). Malformed lines are answered instead of dropped, and a closed stdin closes the
 * runtime and ends the process.
 *
 * @example
 * ```ts
 * serveStdio(() => {
 *   const server = new McpServer({ name: "reports", version: "1.0.0" });
 *   registerTools(server, runtime);
 *   return server;
 * }, { runtime });
 * ```
 */
export function serveStdio(factory: McpServerFactory, options: ServeStdioV2Options = {}): StdioServing {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const guard = new LineGuard(
    (line) => stdout.write(line),
    options.maxLineBytes ?? DEFAULTS_STDIO.maxLineBytes,
  );
  stdin.pipe(guard);
  const transport = new StdioServerTransport(guard, stdout as never);
  const handle = sdkServeStdio(factory, {
    transport,
    ...(options.legacy === undefined ? {} : { legacy: options.legacy }),
    onerror: (error) => log("debug", "stdio", { error: error.message }),
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    log("info", "stdin closed: the client is gone; closing", {});
    void (async () => {
      await handle.close().catch(() => undefined);
      await options.runtime?.close().catch(() => undefined);
      if (options.exitOnClose !== false) process.exit(0);
    })();
  };
  stdin.once("end", end);
  stdin.once("close", end);
  return handle;
}
