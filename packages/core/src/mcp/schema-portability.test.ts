/**
 * Every schema the job tools advertise must map onto any client's tool format: no untyped `{}` subschemas, no
 * `type` arrays, no boolean schemas where an object is expected, no references outside the document. These are
 * the portability rules the MCP Inspector's `--strict` schema lint reports.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { squareTool } from "../../test/helpers.ts";
import { defineAsyncTool } from "../index.ts";
import { connectInMemory } from "../testing/index.ts";

/** Keywords that constrain a value; a subschema with none of them accepts anything. */
const CONSTRAINING = [
  "type",
  "enum",
  "const",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
  "$ref",
  "properties",
  "items",
  "required",
  "pattern",
  "format",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
];
const MAP_KEYWORDS = ["properties", "patternProperties", "$defs", "definitions"];
const SCHEMA_KEYWORDS = ["items", "additionalProperties", "not", "propertyNames", "contains"];
const ARRAY_KEYWORDS = ["anyOf", "oneOf", "allOf", "prefixItems"];
/** Where `true`/`false` is a legal value rather than a schema position that needs an object. */
const BOOLEAN_OK = new Set(["additionalProperties"]);

function problems(schema: unknown, path = "", keyword?: string): string[] {
  if (typeof schema === "boolean")
    return keyword && BOOLEAN_OK.has(keyword) ? [] : [`${path}: boolean schema`];
  if (schema === null || typeof schema !== "object") return [];
  const node = schema as Record<string, unknown>;
  const found: string[] = [];
  if (Array.isArray(node.type)) found.push(`${path}: type array ${JSON.stringify(node.type)}`);
  if (typeof node.$ref === "string" && !node.$ref.startsWith("#")) found.push(`${path}: remote $ref`);
  if (keyword !== "not" && !CONSTRAINING.some((k) => k in node))
    found.push(`${path || "(root)"}: untyped schema`);
  for (const key of MAP_KEYWORDS) {
    const map = node[key];
    if (map && typeof map === "object") {
      for (const [name, sub] of Object.entries(map))
        found.push(...problems(sub, `${path}.${key}.${name}`, key));
    }
  }
  for (const key of SCHEMA_KEYWORDS)
    if (key in node) found.push(...problems(node[key], `${path}.${key}`, key));
  for (const key of ARRAY_KEYWORDS) {
    const list = node[key];
    if (!Array.isArray(list)) continue;
    for (const [i, sub] of list.entries()) found.push(...problems(sub, `${path}.${key}[${i}]`, key));
  }
  return found;
}

const untypedResult = defineAsyncTool({
  name: "untyped",
  description: "Returns anything",
  input: z.object({ q: z.string() }),
  run: async (_ctx, { q }) => [q],
});

describe("the advertised schemas", () => {
  for (const jobTools of ["per-tool", "shared"] as const) {
    it(`are portable (${jobTools} job tools, with and without an output schema)`, async () => {
      await using c = await connectInMemory([squareTool({ runs: 0 }), untypedResult], {
        jobTools,
      });
      const { tools } = await c.client.listTools();
      const found = tools.flatMap((tool) => [
        ...problems(tool.inputSchema).map((p) => `${tool.name} input ${p}`),
        ...problems(tool.outputSchema).map((p) => `${tool.name} output ${p}`),
      ]);
      expect(found).toEqual([]);
    });
  }

  it("still accept the lenient ID shapes models send", async () => {
    await using c = await connectInMemory([untypedResult]);
    const { job_id } = (await c.call("start_untyped", { q: "x" })).structuredContent as { job_id: string };
    for (const ids of [[job_id], job_id, [{ job_id }], { job_id }, JSON.stringify([job_id])]) {
      const result = await c.call("await_untyped", { job_ids: ids, timeout_seconds: 5 });
      expect(result.isError, JSON.stringify(ids)).toBeFalsy();
    }
  });

  it("catch what they are meant to catch", () => {
    expect(problems({ type: "object", properties: { a: {} } })).toEqual([".properties.a: untyped schema"]);
    expect(problems({ type: ["string", "null"] })).toEqual([': type array ["string","null"]']);
    expect(problems({ type: "array", items: true })).toEqual([".items: boolean schema"]);
  });
});
