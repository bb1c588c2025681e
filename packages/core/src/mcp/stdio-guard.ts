/**
 * A line filter in front of an SDK stdio transport (both generations): passes well-formed JSON-RPC lines on
 * and answers the lines the SDKs would silently drop (invalid JSON, non-JSON-RPC, non-object params) or go
 * deaf on (over the size limit) with a JSON-RPC error, so a client never waits for its timeout.
 */
import { Transform, type TransformCallback } from "node:stream";

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

/** The guard: pipe stdin into it and hand it to the SDK's transport as its input. */
export class LineGuard extends Transform {
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
