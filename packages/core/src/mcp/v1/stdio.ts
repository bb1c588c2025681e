/**
 * A stdio transport that answers malformed input instead of dropping it. The SDK's stdio transport silently
 * ignores a line that is not valid JSON-RPC (the client then waits for its timeout) and stops reading for
 * good after a line over 10 MiB; this guard answers such lines with a JSON-RPC error and passes the rest on.
 * It also ends the process's use of the store when the client goes away (stdin closes): a host that kills
 * its client and starts the server again gets the store at once instead of `STORE_LOCKED`.
 */
import { Transform, type TransformCallback } from "node:stream";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { DEFAULTS_STDIO } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import type { AsyncTools } from "../../runtime/runtime.ts";

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

type Id = string | number | null;

function errorLine(id: Id, code: number, message: string): string {
  return `${JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } })}\n`;
}

/** What is wrong with a line, with the id to answer; a notification (no id) gets no answer, by JSON-RPC. */
interface Problem {
  id: Id;
  code: number;
  message: string;
  notification?: boolean;
}

/** Why `line` cannot be handed to the SDK, or `undefined` when it is fine. */
function problem(line: string): Problem | undefined {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (error) {
    return { id: null, code: -32700, message: `Parse error: ${(error as Error).message}` };
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    return { id: null, code: -32600, message: "Invalid Request: a JSON-RPC message must be an object" };
  }
  const record = message as Record<string, unknown>;
  const id = typeof record.id === "string" || typeof record.id === "number" ? record.id : null;
  if (record.jsonrpc !== "2.0") {
    return { id, code: -32600, message: 'Invalid Request: "jsonrpc" must be "2.0"' };
  }
  const isRequest = "method" in record;
  if (isRequest && typeof record.method !== "string") {
    return { id, code: -32600, message: 'Invalid Request: "method" must be a string' };
  }
  if (isRequest && "params" in record) {
    const params = record.params;
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      return {
        id,
        code: -32602,
        message: 'Invalid params: "params" must be an object',
        notification: !("id" in record),
      };
    }
  }
  if ("id" in record && !(typeof record.id === "string" || typeof record.id === "number")) {
    return { id: null, code: -32600, message: 'Invalid Request: "id" must be a string or a number' };
  }
  return undefined;
}

/** The id a skipped message's first bytes name, when they name one at the top level's usual place. */
function idNear(head: string): Id {
  const match = /"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)/.exec(head);
  if (match?.[1] === undefined) return null;
  try {
    const id: unknown = JSON.parse(match[1]);
    return typeof id === "string" || typeof id === "number" ? id : null;
  } catch {
    return null;
  }
}

class LineGuard extends Transform {
  private buffer: Buffer[] = [];
  private size = 0;
  private skipping = false;
  /** The first bytes of a line being skipped, to find the id to answer. */
  private head = "";
  private readonly reply: (line: string) => void;
  private readonly maxLineBytes: number;

  constructor(reply: (line: string) => void, maxLineBytes: number) {
    super();
    this.reply = reply;
    this.maxLineBytes = maxLineBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.collect(chunk.subarray(start, newline));
      this.finishLine();
      start = newline + 1;
    }
    this.collect(chunk.subarray(start));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.size > 0 || this.skipping) this.finishLine();
    done();
  }

  private collect(part: Buffer): void {
    if (this.skipping || part.length === 0) return;
    if (this.size + part.length > this.maxLineBytes) {
      this.head = Buffer.concat([...this.buffer, part])
        .subarray(0, 4096)
        .toString("utf8");
      this.skipping = true;
      this.buffer = [];
      this.size = 0;
      return;
    }
    this.buffer.push(part);
    this.size += part.length;
  }

  private finishLine(): void {
    if (this.skipping) {
      this.skipping = false;
      const id = idNear(this.head);
      this.head = "";
      this.reply(
        errorLine(id, -32600, `Invalid Request: a message over ${this.maxLineBytes} bytes was skipped`),
      );
      return;
    }
    const line = Buffer.concat(this.buffer).toString("utf8");
    this.buffer = [];
    this.size = 0;
    if (line.trim() === "") return;
    const found = problem(line);
    if (found === undefined) this.push(`${line}\n`);
    else if (!found.notification) this.reply(errorLine(found.id, found.code, found.message));
  }
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
