/**
 * A stdio transport that answers malformed input instead of dropping it. The SDK's stdio transport silently
 * ignores a line that is not valid JSON-RPC (the client then waits for its timeout) and stops reading for
 * good after a line over 10 MiB; this guard answers such lines with a JSON-RPC error and passes the rest on.
 * It also ends the process's use of the store when the client goes away (stdin closes): a host that kills
 * its client and starts the server again gets the store at once instead of `STORE_LOCKED`.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { DEFAULTS_STDIO } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import type { AsyncTools } from "../../runtime/runtime.ts";
import { LineGuard } from "../stdio-guard.ts";

/** Options of {@link createStdioTransport}. */
export interface StdioTransportOptions {
  /** Where requests come from. Default `process.stdin`. */
  stdin?: NodeJS.ReadableStream;
  /** Where answers go. Default `process.stdout`. */
  stdout?: NodeJS.WritableStream;
  /**
   * Longest line accepted, in bytes; longer ones are answered with an error and skipped. Default 8 MiB,
   * below the 10 MiB past which the SDK's transport closes itself.
   */
  maxLineBytes?: number;
  /** The runtime to close when stdin closes, which releases its store. Pass it; without it only the process exit does. */
  runtime?: AsyncTools;
  /** Exit the process once stdin closed and the runtime closed. Default true; `false` for embedders. */
  exitOnClose?: boolean;
}

/**
 * The SDK's `StdioServerTransport`, behind a guard that answers lines it would drop: invalid JSON (-32700),
 * messages that are not JSON-RPC (-32600), non-object `params` (-32602), and lines over `maxLineBytes`.
 *
 * @example
 * ```ts
 * import { createStdioTransport } from "@async-tools/core/mcp-v1";
 * await server.connect(createStdioTransport({ runtime }));
 * ```
 */
export function createStdioTransport(options: StdioTransportOptions = {}): StdioServerTransport {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const guard = new LineGuard(
    (line) => stdout.write(line),
    options.maxLineBytes ?? DEFAULTS_STDIO.maxLineBytes,
  );
  stdin.pipe(guard);
  const transport = new StdioServerTransport(guard, stdout as never);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    log("info", "stdin closed: the client is gone; closing", {});
    void (async () => {
      await transport.close().catch(() => undefined);
      await options.runtime?.close().catch(() => undefined);
      if (options.exitOnClose !== false) process.exit(0);
    })();
  };
  stdin.once("end", end);
  stdin.once("close", end);
  return transport;
}
