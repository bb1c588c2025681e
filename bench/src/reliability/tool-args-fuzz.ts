/**
 * Tool arguments fuzzed through a real MCP client to the stdio server: every call must end in a result, an
 * `isError` result with a readable message, or a JSON-RPC error, and the server must stay up and answer.
 */

import { alive } from "@async-tools/test-helpers/children";
import { textOf } from "@async-tools/test-helpers/mcp";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { failureOf, TOOL_NAMES, toolArguments } from "../lib/arbitraries.ts";
import { startStdioServer } from "../lib/child.ts";
import type { Check } from "../lib/scenario.ts";

/** Calls random tools with `runs` fuzzed argument objects. */
export async function fuzzToolArguments(
  runs: number,
  seed: number,
): Promise<{ checks: Check[]; figures: object }> {
  const server = await startStdioServer({ store: "memory" });
  const outcomes = { result: 0, tool_error: 0, jsonrpc_error: 0 };
  let failure: string | undefined;
  try {
    failure = await failureOf(
      fc.asyncProperty(fc.constantFrom(...TOOL_NAMES), toolArguments, async (name, args) => {
        try {
          const result = await server.call(name, args, 20_000);
          if (result.isError) {
            const text = textOf(result);
            if (text.length < 10 || /\n\s+at /.test(text)) {
              throw new Error(`unclear tool error from ${name}: ${JSON.stringify(text.slice(0, 200))}`);
            }
            outcomes.tool_error++;
          } else {
            outcomes.result++;
          }
        } catch (error) {
          if (!(error instanceof McpError) || error.message.length === 0) throw error;
          outcomes.jsonrpc_error++;
        }
        if (!alive(server.pid)) throw new Error(`the server died on ${name}: ${server.stderr().slice(-500)}`);
      }),
      { numRuns: runs, seed, endOnFailure: true },
    );
    const after = await server.call("noop", { n: 1 }, 10_000);
    if (after.isError) throw new Error("a valid call failed after the fuzzing");
  } catch (error) {
    failure ??= error instanceof Error ? error.message : String(error);
  } finally {
    await server.close();
  }
  return {
    figures: { calls: runs, ...outcomes },
    checks: [
      {
        name: "fuzzed tool arguments: clear errors, server up",
        ok: failure === undefined,
        detail:
          failure ??
          `${runs} calls: ${outcomes.result} results, ${outcomes.tool_error} isError results, ${outcomes.jsonrpc_error} JSON-RPC errors; a valid call answered afterwards`,
      },
    ],
  };
}
