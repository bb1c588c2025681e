/**
 * Raw JSON-RPC lines written to the stdio server's stdin: every request that carries an ID must be answered
 * under that ID with a result or a JSON-RPC error, and after every line the server must still answer a valid
 * call. Plus one line over the SDK's 10 MiB stdio limit, to record what happens.
 */
import fc from "fast-check";
import { type FuzzLine, failureOf, fuzzLine } from "../lib/arbitraries.ts";
import { type RawStdioServer, startRawStdioServer } from "../lib/child.ts";
import type { Check } from "../lib/scenario.ts";
import { pollUntil, sleep } from "../lib/time.ts";

interface Message {
  id?: unknown;
  result?: { isError?: boolean; content?: { type: string; text?: string }[] };
  error?: { code?: unknown; message?: unknown };
}

/** Finds the answer to request `id` among the lines the server wrote, parsing each line once. */
function replies(server: RawStdioServer) {
  const byId = new Map<unknown, Message>();
  let read = 0;
  return async (id: unknown, timeoutMs: number): Promise<Message | undefined> =>
    pollUntil(
      () => {
        for (; read < server.lines.length; read++) {
          try {
            const message = JSON.parse(server.lines[read] ?? "") as Message;
            if (message && typeof message === "object" && "id" in message) byId.set(message.id, message);
          } catch {
            // A line that is not JSON would break the protocol; the property below catches it as no answer.
          }
        }
        return byId.get(id);
      },
      timeoutMs,
      2,
    );
}

/** Whether a reply is a clear error or a result: an error has a numeric code and a message. */
function clear(message: Message): boolean {
  if (message.error !== undefined) {
    return typeof message.error.code === "number" && typeof message.error.message === "string";
  }
  if (message.result?.isError) {
    const text = message.result.content?.map((c) => c.text ?? "").join("") ?? "";
    return text.length > 0 && !/\n\s+at /.test(text);
  }
  return message.result !== undefined;
}

/** Writes `bytes` and a newline, without waiting longer than `timeoutMs` for the pipe to take them. */
async function writeLine(server: RawStdioServer, bytes: Buffer, timeoutMs: number): Promise<boolean> {
  return Promise.race([
    server.write(Buffer.concat([bytes, Buffer.from("\n")])).then(() => true),
    sleep(timeoutMs).then(() => false),
  ]);
}

/** Fuzzes the stdio server with `runs` lines; returns the checks. */
export async function fuzzStdio(runs: number, seed: number): Promise<{ checks: Check[]; figures: object }> {
  const server = startRawStdioServer({ store: "memory" });
  const reply = replies(server);
  const kinds = new Map<string, number>();
  let ids = 1;
  let probes = 0;
  const unanswered: string[] = [];
  let dropped = 0;
  let failure: string | undefined;
  const healthy = async (): Promise<boolean> => {
    const id = `probe-${probes++}`;
    const call = { jsonrpc: "2.0", id, method: "tools/call", params: { name: "noop", arguments: { n: 1 } } };
    if (!(await writeLine(server, Buffer.from(JSON.stringify(call)), 10_000))) return false;
    const answer = await reply(id, 10_000);
    return answer?.result !== undefined && !answer.result.isError;
  };
  try {
    const init = {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fuzz", version: "0" } },
    };
    await writeLine(server, Buffer.from(JSON.stringify(init)), 10_000);
    if ((await reply(0, 30_000))?.result === undefined)
      throw new Error("the server did not answer initialize");
    await writeLine(server, Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'), 10_000);

    failure = await failureOf(
      fc.asyncProperty(
        fuzzLine(() => 1_000 + ids++),
        async (input: FuzzLine) => {
          kinds.set(input.kind, (kinds.get(input.kind) ?? 0) + 1);
          if (!(await writeLine(server, input.bytes, 10_000)))
            throw new Error(`stdin stopped taking ${input.kind}`);
          if (input.replyId !== undefined) {
            const answer = await reply(input.replyId, 10_000);
            if (answer === undefined) {
              unanswered.push(`${input.kind}: ${input.bytes.toString().slice(0, 80)}`);
            } else if (!clear(answer))
              throw new Error(`unclear answer to ${input.kind}: ${JSON.stringify(answer)}`);
          }
          if (!server.alive())
            throw new Error(`the server died after ${input.kind}: ${server.stderr().slice(-500)}`);
          if (!(await healthy())) throw new Error(`the server stopped answering after ${input.kind}`);
          if (input.hopeId !== undefined) {
            // The valid call after it was answered, so the server has read this line long since.
            const answer = await reply(input.hopeId, 200);
            if (answer === undefined) dropped++;
            else if (!clear(answer))
              throw new Error(`unclear answer to ${input.kind}: ${JSON.stringify(answer)}`);
          }
        },
      ),
      { numRuns: runs, seed, endOnFailure: true },
    );
  } catch (error) {
    failure ??= error instanceof Error ? error.message : String(error);
  }

  // A tools/call that names no tool: a plain invalid-params error, not an internal error or a schema dump.
  let nameless = "not run";
  if (failure === undefined) {
    const line = '{"jsonrpc":"2.0","id":"nameless","method":"tools/call","params":{"arguments":{}}}';
    await writeLine(server, Buffer.from(line), 10_000);
    const answer = await reply("nameless", 10_000);
    nameless =
      answer === undefined ? "no answer" : JSON.stringify(answer.error ?? answer.result).slice(0, 200);
  }
  const namelessOk = /"code":-32602/.test(nameless) && !/invalid_type|\[\\n/.test(nameless);

  // One line over the SDK's StdioServerTransport limit (10 MiB): it closes the transport.
  let oversized = "not run";
  if (failure === undefined) {
    const huge = `{"jsonrpc":"2.0","id":"huge","method":"tools/call","params":{"name":"noop","arguments":{"n":"${"x".repeat(12 * 1024 * 1024)}"}}}`;
    const taken = await writeLine(server, Buffer.from(huge), 10_000);
    const answered = taken && (await healthy());
    oversized = answered
      ? "answered"
      : `${server.alive() ? "alive but no longer reading stdin" : "exited"}${taken ? "" : " (stdin stopped taking bytes)"}`;
  }
  await server.kill();
  const lines = [...kinds.values()].reduce((a, b) => a + b, 0);
  return {
    figures: {
      lines,
      kinds: Object.fromEntries(kinds),
      requests_left_unanswered: unanswered.length,
      non_object_params_dropped: dropped,
      oversized_line: oversized,
    },
    checks: [
      {
        name: "raw stdin lines: alive, answering, clear errors",
        ok: failure === undefined && unanswered.length === 0,
        detail:
          failure ??
          (unanswered.length > 0
            ? `${unanswered.length} requests never answered, e.g. ${unanswered[0]}`
            : `${lines} lines of ${kinds.size} kinds (${[...kinds.keys()].join(", ")}); every request with an ID answered, a valid call answered after each line`),
      },
      {
        name: "requests whose params are not an object get an error",
        ok: dropped === 0,
        warnOnly: true,
        detail: `${dropped} of ${kinds.get("params not an object") ?? 0} got no answer at all: the MCP SDK drops a message its schema rejects (no -32600 reply), so the client waits for its time-out`,
      },
      {
        name: "a tools/call without a tool name gets -32602 with a plain message",
        ok: namelessOk,
        detail: nameless,
      },
      {
        name: "a 12 MB line (over the SDK's 10 MiB stdio buffer)",
        ok: oversized === "answered",
        warnOnly: true,
        detail: `${oversized}: the MCP SDK's StdioServerTransport closes itself past 10 MiB and the server goes deaf`,
      },
    ],
  };
}
