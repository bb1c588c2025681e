/**
 * fast-check generators of bad input: wrong types, huge strings, deep nesting, lone surrogates, invalid
 * UTF-8 bytes, unknown tools and methods. Sizes stay under the SDK's 10 MiB stdio line limit.
 */
import fc from "fast-check";

/** Every tool the bench server has, plus names it does not have. */
export const TOOL_NAMES = [
  "noop",
  "start_noop_job",
  "probe_noop_job",
  "await_noop_job",
  "cancel_noop_job",
  "start_three_step",
  "probe_three_step",
  "await_three_step",
  "cancel_three_step",
  "no_such_tool",
  "",
];

/** `[[[...]]]` or `{"a":{"a":...}}` nested `depth` deep, built without recursion. */
export function nested(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

/** The same nesting as JSON text, for lines and bodies too deep for `JSON.stringify`. */
export function nestedJson(depth: number): string {
  return `${"[".repeat(depth)}0${"]".repeat(depth)}`;
}

/** A string of `length` characters (up to about 2 MB). */
export const hugeString = fc
  .integer({ min: 10_000, max: 2_000_000 })
  .chain((length) =>
    fc.constantFrom("x", "é", "\u{1F600}", '"').map((unit) => unit.repeat(length / unit.length)),
  );

/** Values of any shape a model might send where a number or a list of IDs belongs. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.anything() },
  { weight: 2, arbitrary: fc.string({ unit: "binary" }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.integer() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 1e308, 0.5, "1", "[]", "a,b", true, null),
  },
  { weight: 1, arbitrary: hugeString },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 10, max: 2_000 }), fc.constantFrom("array" as const, "object" as const))
      .map(([depth, kind]) => nested(depth, kind)),
  },
);

/** Tool arguments: free-form objects, or the real field names with values of the wrong kind. */
export const toolArguments: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.dictionary(fc.string(), weirdValue, { maxKeys: 5 }),
  fc.record(
    { n: weirdValue, delay_ms: weirdValue, step_ms: weirdValue, fresh: weirdValue },
    { requiredKeys: [] },
  ),
  fc.record({ job_ids: weirdValue, timeout_seconds: weirdValue }, { requiredKeys: [] }),
  fc.record({ job_ids: fc.array(fc.string(), { maxLength: 1_200 }) }),
  fc.record(
    {
      n: fc.integer(),
      delay_ms: fc.integer({ min: -10, max: 100 }),
      step_ms: fc.integer({ min: -10, max: 100 }),
    },
    { requiredKeys: ["n"] },
  ),
);

/**
 * A fuzzed line for the stdio server, and the request ID it must be answered under, if any. `hopeId` marks a
 * request JSON-RPC 2.0 says deserves an answer but MCP's message schema rejects (params not an object).
 */
export interface FuzzLine {
  kind: string;
  bytes: Buffer;
  replyId?: number;
  hopeId?: number;
}

const line = (kind: string, text: string, replyId?: number): FuzzLine => ({
  kind,
  bytes: Buffer.from(text.replaceAll("\n", "\\n"), "utf8"),
  ...(replyId === undefined ? {} : { replyId }),
});

/** Raw JSON-RPC lines: random JSON, wrong envelopes, unknown methods, bad tool calls, huge, deep, bad bytes. */
export function fuzzLine(nextId: () => number): fc.Arbitrary<FuzzLine> {
  const id = fc.constant(null).map(() => nextId());
  return fc.oneof(
    fc.jsonValue().map((value) => line("random JSON", JSON.stringify(value))),
    fc
      .record({ jsonrpc: fc.anything(), id: fc.anything(), method: fc.anything(), params: fc.anything() })
      .map((envelope) => line("wrong envelope types", JSON.stringify(envelope) ?? "null")),
    fc
      .tuple(id, fc.string(), fc.option(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 })))
      .map(([requestId, method, params]) =>
        line(
          "unknown method",
          JSON.stringify({ jsonrpc: "2.0", id: requestId, method, ...(params === null ? {} : { params }) }),
          requestId,
        ),
      ),
    fc
      .tuple(
        id,
        fc.constantFrom("tools/call", "tools/list", "ping", "no/such"),
        fc.oneof(fc.array(fc.jsonValue()), fc.string(), fc.double(), fc.boolean()),
      )
      .map(([requestId, method, params]) => ({
        kind: "params not an object",
        bytes: Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: requestId, method, params })),
        hopeId: requestId,
      })),
    fc.tuple(id, fc.constantFrom(...TOOL_NAMES), toolArguments).map(([requestId, name, args]) =>
      line(
        "tools/call with bad arguments",
        JSON.stringify({
          jsonrpc: "2.0",
          id: requestId,
          method: "tools/call",
          params: { name, arguments: args },
        }),
        requestId,
      ),
    ),
    fc
      .tuple(id, fc.constantFrom(...TOOL_NAMES), fc.integer({ min: 1_000, max: 200_000 }))
      .map(([requestId, name, depth]) =>
        line(
          "deep nesting in arguments",
          `{"jsonrpc":"2.0","id":${requestId},"method":"tools/call","params":{"name":"${name}","arguments":{"n":${nestedJson(depth)},"job_ids":${nestedJson(depth)}}}}`,
          requestId,
        ),
      ),
    fc.integer({ min: 1_000, max: 500_000 }).map((depth) => line("deep nesting", nestedJson(depth))),
    fc.tuple(id, hugeString).map(([requestId, huge]) =>
      line(
        "huge string",
        JSON.stringify({
          jsonrpc: "2.0",
          id: requestId,
          method: "tools/call",
          params: { name: "start_three_step", arguments: { n: huge } },
        }),
        requestId,
      ),
    ),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((raw) => ({
      kind: "invalid UTF-8 bytes",
      bytes: Buffer.from(raw.map((b) => (b === 0x0a ? 0xff : b | 0x80))),
    })),
    fc.tuple(id, fc.uint8Array({ minLength: 1, maxLength: 20 })).map(([requestId, raw]) => ({
      kind: "invalid UTF-8 inside a request",
      bytes: Buffer.concat([
        Buffer.from(
          `{"jsonrpc":"2.0","id":${requestId},"method":"tools/call","params":{"name":"probe_noop_job","arguments":{"job_ids":["`,
        ),
        Buffer.from(raw.map((b) => 0x80 | (b & 0x7f))),
        Buffer.from(`"]}}}`),
      ]),
      replyId: requestId,
    })),
    fc.string({ unit: "grapheme" }).map((text) => line("not JSON", text)),
  );
}

/**
 * Runs an async property and returns why it failed (the error, then the counterexample, cut short), or
 * `undefined` when every run passed.
 */
export async function failureOf<T>(
  property: fc.IAsyncProperty<T>,
  parameters: fc.Parameters<T>,
): Promise<string | undefined> {
  const details = await fc.check(property, parameters);
  if (!details.failed) return undefined;
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const example = fc.stringify(details.counterexample);
  return `${error.slice(0, 300)} (after ${details.numRuns} runs; counterexample ${example.slice(0, 200)})`;
}
