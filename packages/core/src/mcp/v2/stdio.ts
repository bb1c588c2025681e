/**
 * stdio for the v2 face: the SDK's `serveStdio` (one McpServer per connection, the era picked by the
 * opening message) behind the same line guard as v1, closing the runtime when stdin closes.
 *
 * A v2 Client in `auto` or pinned mode spawns the server command twice on stdio: a short-lived sibling
 * answers one `server/discover` and is killed, then the real connection starts. Given the runtime's options
 * instead of an open runtime, this entry keeps the store closed until the connection sends anything but
 * `server/discover`, and answers discovery from a stand-in runtime of the same tools on the memory store:
 * the probe process never locks the store file and never resumes (re-runs) an interrupted step.
 */
import type { JSONRPCMessage, McpRequestContext, McpServer, Transport } from "@modelcontextprotocol/server";
import {
  type ServeStdioOptions,
  type StdioServerHandle,
  StdioServerTransport,
  serveStdio as sdkServeStdio,
} from "@modelcontextprotocol/server/stdio";
import { DEFAULTS_STDIO } from "../../defaults.ts";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { type AsyncTools, type CreateAsyncToolsOptions, createAsyncTools } from "../../runtime/runtime.ts";
import { LineGuard } from "../stdio-guard.ts";
import { extensionTasksOf } from "./register.ts";
import { followTasks, taskListenOf } from "./task-subscriptions.ts";

/** Builds the McpServer of one connection over `runtime`: create it and call `registerTools` on it. */
export type RuntimeServerFactory = (
  runtime: AsyncTools,
  context: McpRequestContext,
) => McpServer | Promise<McpServer>;

/** Options of {@link serveStdio}. */
export interface ServeStdioV2Options {
  /**
   * The runtime to serve: its options (opened on the first request that is not `server/discover`, see the
   * module comment; recommended) or a runtime already open. Either way it is closed when stdin closes.
   */
  runtime: AsyncTools | CreateAsyncToolsOptions;
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
  /** The runtime once it is open (at once when an open runtime was given). */
  readonly runtime: Promise<AsyncTools>;
  /** Closes the connection and the runtime. */
  close(): Promise<void>;
}

/**
 * Serves MCP over stdio with the v2 SDK, in the era the client opens with: 2026-07-28 (`server/discover`
 * or an enveloped request) or 2025-11-25 (`initialize`). `factory` builds the connection's McpServer over
 * the runtime. Malformed lines are answered instead of dropped; a closed stdin closes the runtime and ends
 * the process.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/server";
 * import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
 *
 * serveStdio(
 *   (runtime) => {
 *     const server = new McpServer({ name: "reports", version: "1.0.0" });
 *     registerTools(server, runtime);
 *     return server;
 *   },
 *   { runtime: { name: "reports", tools: [buildReport] } },
 * );
 * ```
 */
export function serveStdio(factory: RuntimeServerFactory, options: ServeStdioV2Options): StdioServing {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const guard = new LineGuard(
    (line) => stdout.write(line),
    options.maxLineBytes ?? DEFAULTS_STDIO.maxLineBytes,
  );
  stdin.pipe(guard);
  const wire = new StdioServerTransport(guard, stdout as never);
  const given = isRuntime(options.runtime) ? options.runtime : undefined;
  const runtimeOptions = isRuntime(options.runtime) ? undefined : options.runtime;

  let opening: Promise<AsyncTools> | undefined;
  let resolveRuntime!: (runtime: AsyncTools) => void;
  let rejectRuntime!: (error: unknown) => void;
  const runtime = new Promise<AsyncTools>((resolve, reject) => {
    resolveRuntime = resolve;
    rejectRuntime = reject;
  });
  runtime.catch(() => undefined);
  const openRuntime = (): Promise<AsyncTools> => {
    opening ??= (
      given === undefined
        ? createAsyncTools(runtimeOptions as CreateAsyncToolsOptions)
        : Promise.resolve(given)
    ).then(
      (opened) => {
        resolveRuntime(opened);
        return opened;
      },
      (error: unknown) => {
        rejectRuntime(error);
        throw error;
      },
    );
    return opening;
  };
  if (given !== undefined) void openRuntime();

  // The McpServer of the connection, kept for the task listens this entry serves beside the SDK.
  let connectionServer: McpServer | undefined;
  const serve = (over: AsyncTools) => {
    const relay = new Relay(wire);
    const handle = sdkServeStdio(async (context) => (connectionServer = await factory(over, context)), {
      transport: relay,
      ...(options.legacy === undefined ? {} : { legacy: options.legacy }),
      onerror: (error) => log("debug", "stdio", { error: error.message }),
    });
    return { relay, handle };
  };

  let discovery: { relay: Relay; handle: StdioServerHandle; runtime: AsyncTools } | undefined;
  let serving: { relay: Relay; handle: StdioServerHandle } | undefined;
  const listens = new Map<string | number, AbortController>();
  const closed = new AbortController();
  // A listen for task IDs is served here (the SDK's router drops them); the rest goes to the SDK.
  const listenForTasks = async (message: JSONRPCMessage): Promise<boolean> => {
    const cancelled = cancelledRequestOf(message);
    if (cancelled !== undefined && listens.has(cancelled)) {
      listens.get(cancelled)?.abort();
      return true;
    }
    const listen = taskListenOf(message);
    if (listen === undefined) return false;
    const runtime = await openRuntime();
    connectionServer ??= await factory(runtime, { era: "modern" });
    const tasks = extensionTasksOf(connectionServer);
    if (tasks === undefined) return false;
    const stop = new AbortController();
    listens.set(listen.id, stop);
    const signal = AbortSignal.any([stop.signal, closed.signal]);
    void followTasks(tasks, listen, {}, (out) => wire.send(out), { signal })
      .catch((error: unknown) => log("warn", "stdio: a task subscription ended", { error: String(error) }))
      .finally(() => listens.delete(listen.id));
    return true;
  };
  const route = async (message: JSONRPCMessage) => {
    if (await listenForTasks(message)) return;
    if (serving !== undefined) return serving.relay.deliver(message);
    if (given === undefined && isDiscovery(message)) {
      if (discovery === undefined) {
        const standIn = await createAsyncTools({
          ...(runtimeOptions as CreateAsyncToolsOptions),
          store: "memory",
        });
        discovery = { ...serve(standIn), runtime: standIn };
      }
      return discovery.relay.deliver(message);
    }
    if (discovery !== undefined) {
      const done = discovery;
      discovery = undefined;
      await done.handle.close().catch(() => undefined);
      await done.runtime.close().catch(() => undefined);
    }
    serving = serve(await openRuntime());
    serving.relay.deliver(message);
  };
  let queue = Promise.resolve();
  wire.onmessage = (message) => {
    queue = queue
      .then(() => route(message))
      .catch(async (error: unknown) => {
        // The runtime could not open (a locked or corrupt store, say): tell the client why, then give up.
        const reason = error instanceof AsyncToolsError ? `${error.code}: ${error.message}` : String(error);
        log("error", "stdio: cannot serve the connection", { error: reason });
        if ("id" in message && "method" in message) {
          const answer = { code: -32603, message: `The async tools could not start: ${reason}` };
          await wire.send({ jsonrpc: "2.0", id: message.id, error: answer }).catch(() => undefined);
        }
        await close(1);
      });
  };
  void wire.start();

  let closing: Promise<void> | undefined;
  const close = (exitCode?: number): Promise<void> => {
    closing ??= (async () => {
      closed.abort();
      await serving?.handle.close().catch(() => undefined);
      await discovery?.handle.close().catch(() => undefined);
      await discovery?.runtime.close().catch(() => undefined);
      await wire.close().catch(() => undefined);
      if (opening !== undefined) await (await opening.catch(() => undefined))?.close().catch(() => undefined);
      if (exitCode !== undefined) process.exit(exitCode);
    })();
    return closing;
  };
  const end = () => {
    log("info", "stdin closed: the client is gone; closing", {});
    void close(options.exitOnClose === false ? undefined : 0);
  };
  stdin.once("end", end);
  stdin.once("close", end);
  return { runtime, close: () => close() };
}

function isRuntime(value: AsyncTools | CreateAsyncToolsOptions): value is AsyncTools {
  return typeof (value as AsyncTools).close === "function";
}

/** The request a `notifications/cancelled` names, if `message` is one. */
function cancelledRequestOf(message: JSONRPCMessage): string | number | undefined {
  if (!("method" in message) || message.method !== "notifications/cancelled" || "id" in message)
    return undefined;
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof requestId === "string" || typeof requestId === "number" ? requestId : undefined;
}

function isDiscovery(message: JSONRPCMessage): boolean {
  return "method" in message && message.method === "server/discover" && "id" in message;
}

/**
 * The transport one SDK `serveStdio` runs on: what it sends goes to the shared stdio wire, and it receives
 * only what the router delivers. Closing it closes this serving, never the wire.
 */
class Relay implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly wire: Transport;
  private closed = false;

  constructor(wire: Transport) {
    this.wire = wire;
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.closed) await this.wire.send(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }

  deliver(message: JSONRPCMessage): void {
    if (!this.closed) this.onmessage?.(message);
  }
}
