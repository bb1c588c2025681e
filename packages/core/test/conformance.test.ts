/**
 * The official conformance suite (`@modelcontextprotocol/conformance`, pinned in the workspace catalog) against
 * `serveHttp`: the 2025-11-25 scenarios that apply to any server on both faces, stateless and stateful; and every
 * 2026-07-28 server scenario and every Tasks-extension scenario on the v2 face, against the fixture server
 * the scenarios name their tools after. A check that cannot pass here is listed below with its reason; every
 * other check must pass, and a listed check that starts passing fails the test until it is taken off the list.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMcpHandler as v1Face } from "../src/mcp/v1/http-handler.ts";
import { createMcpHandler as v2Face } from "../src/mcp/v2/http-handler.ts";
import { type ConformanceRun, runConformance } from "./conformance-cli.ts";
import { type ConformanceFixture, serveConformanceFixture } from "./fixtures/conformance-server.ts";
import { rig } from "./http-rig.ts";

/** The 2025-11-25 server scenarios that apply to any server, whatever its tools. */
const LEGACY_SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"];

describe.each([
  ["v1 face, stateless", v1Face, false],
  ["v1 face, stateful", v1Face, true],
  ["v2 face, stateless", v2Face, false],
  ["v2 face, stateful", v2Face, true],
] as const)("2025-11-25 conformance scenarios, %s", (_mode, face, stateful) => {
  it.each(LEGACY_SCENARIOS)(
    "passes %s",
    async (scenario) => {
      const r = await rig({ stateful, face: (runtime) => face(runtime) });
      const run = await runConformance(
        r.server.url,
        ["--scenario", scenario, "--spec-version", "2025-11-25"],
        120_000,
      );
      const checks = run.scenarios.get(scenario) ?? [];
      expect(checks.length, run.output).toBeGreaterThan(0);
      expect(checks.filter((c) => c.status === "FAILURE")).toEqual([]);
    },
    150_000,
  );
});

const NO_PROMPTS = "not applicable: the library serves tools, no prompts";
const NO_RESOURCES = "not applicable: the library serves tools, no resources";
const CONTENT =
  "not applicable: an async tool's result is JSON (a text block and structuredContent); fixed texts, images, " +
  "audio and embedded resources are what a host registers as its own plain tools";

/**
 * The checks that fail against the fixture for a reason outside what the library serves, by scenario: why,
 * and the check IDs. Any other failing check fails the test.
 */
export const EXPECTED_FAILURES: Record<string, { reason: string; checks: string[] }> = {
  "server-stateless": {
    reason:
      "not applicable: its diagnostic tools test_missing_capability, test_streaming_elicitation and " +
      "test_logging_tool sample, elicit and log from inside a call, which async tools do not do",
    checks: [
      "sep-2575-server-rejects-undeclared-capability",
      "sep-2575-missing-capability-http-400",
      "sep-2575-http-server-no-independent-requests-on-stream",
      "sep-2575-server-no-log-without-loglevel",
    ],
  },
  "completion-complete": {
    reason: "not applicable: the library serves no prompts or resource templates to complete",
    checks: ["completion-complete"],
  },
  "tools-call-simple-text": { reason: CONTENT, checks: ["tools-call-simple-text"] },
  "tools-call-image": { reason: CONTENT, checks: ["tools-call-image"] },
  "tools-call-audio": { reason: CONTENT, checks: ["tools-call-audio"] },
  "tools-call-embedded-resource": { reason: CONTENT, checks: ["tools-call-embedded-resource"] },
  "tools-call-mixed-content": { reason: CONTENT, checks: ["tools-call-mixed-content"] },
  "json-schema-2020-12": {
    reason:
      "not applicable: input schemas are zod schemas, which cannot express the fixture's if/then/else and " +
      "$anchor (the suite itself lists the scenario as pending)",
    checks: ["json-schema-2020-12-tool-found"],
  },
  "http-custom-header-server-validation": {
    reason:
      "not applicable: no async tool maps an argument to an HTTP header (SEP-2243 x-mcp-header; the suite " +
      "itself lists the scenario as pending)",
    checks: [
      "sep-2243-server-no-xmcp-tool",
      "sep-2243-server-decode-base64",
      "sep-2243-server-validate-param-match",
      "sep-2243-server-reject-invalid-param-chars",
      "sep-2243-server-reject-param-mismatch",
    ],
  },
  caching: {
    reason: "not applicable: prompts/list and resources/*/list are not served (tools/list carries the hints)",
    checks: [
      "sep-2549-prompts-list-caching-hints",
      "sep-2549-resources-list-caching-hints",
      "sep-2549-resources-templates-list-caching-hints",
    ],
  },
  "resources-list": { reason: NO_RESOURCES, checks: ["resources-list"] },
  "resources-read-text": { reason: NO_RESOURCES, checks: ["resources-read-text"] },
  "resources-read-binary": { reason: NO_RESOURCES, checks: ["resources-read-binary"] },
  "resources-templates-read": { reason: NO_RESOURCES, checks: ["resources-templates-read"] },
  "prompts-list": { reason: NO_PROMPTS, checks: ["prompts-list"] },
  "prompts-get-simple": { reason: NO_PROMPTS, checks: ["prompts-get-simple"] },
  "prompts-get-with-args": { reason: NO_PROMPTS, checks: ["prompts-get-with-args"] },
  "prompts-get-embedded-resource": { reason: NO_PROMPTS, checks: ["prompts-get-embedded-resource"] },
  "prompts-get-with-image": { reason: NO_PROMPTS, checks: ["prompts-get-with-image"] },
  "input-required-result-non-tool-request": {
    reason: `${NO_PROMPTS}: the scenario asks through prompts/get (test_input_required_result_prompt)`,
    checks: ["sep-2322-non-tool-incomplete"],
  },
};

/** Every 2026-07-28 server scenario and every Tasks-extension scenario: what `--requirements 2026-07-28` runs. */
const MODERN_SCENARIOS = [
  "server-stateless",
  "completion-complete",
  "tools-list",
  "tools-call-simple-text",
  "tools-call-image",
  "tools-call-audio",
  "tools-call-embedded-resource",
  "tools-call-mixed-content",
  "tools-call-error",
  "tools-call-with-progress",
  "server-sse-multiple-streams",
  "json-schema-2020-12",
  "resources-list",
  "resources-read-text",
  "resources-read-binary",
  "resources-templates-read",
  "sep-2164-resource-not-found",
  "prompts-list",
  "prompts-get-simple",
  "prompts-get-with-args",
  "prompts-get-embedded-resource",
  "prompts-get-with-image",
  "dns-rebinding-protection",
  "caching",
  "http-header-validation",
  "http-custom-header-server-validation",
  "input-required-result-basic-elicitation",
  "input-required-result-basic-sampling",
  "input-required-result-basic-list-roots",
  "input-required-result-request-state",
  "input-required-result-multiple-input-requests",
  "input-required-result-multi-round",
  "input-required-result-missing-input-response",
  "input-required-result-non-tool-request",
  "input-required-result-result-type",
  "input-required-result-unsupported-methods",
  "input-required-result-tampered-state",
  "input-required-result-capability-check",
  "input-required-result-ignore-extra-params",
  "input-required-result-validate-input",
  "tasks-lifecycle",
  "tasks-capability-negotiation",
  "tasks-wire-fields",
  "tasks-request-state-removal",
  "tasks-mrtr-input",
  "tasks-request-headers",
  "tasks-dispatch-and-envelope",
  "tasks-status-notifications",
  "tasks-required-task-error",
  "tasks-mrtr-composition",
];

describe("2026-07-28 and Tasks-extension conformance scenarios, v2 face", () => {
  let fixture: ConformanceFixture;
  let run: ConformanceRun;

  beforeAll(async () => {
    fixture = await serveConformanceFixture();
    // One run of the whole set, as the suite's own requirement set (each scenario at the 2026-07-28 wire); a
    // generous per-scenario budget, since the scenarios run at once on a shared machine.
    run = await runConformance(fixture.url, ["--requirements", "2026-07-28", "--timeout", "120000"], 600_000);
  }, 620_000);
  afterAll(() => fixture?.close());

  it("runs every scenario", () => {
    expect([...run.scenarios.keys()].sort(), run.output).toEqual([...MODERN_SCENARIOS].sort());
  });

  it.each(MODERN_SCENARIOS)("%s fails no check but those listed as not applicable or pending", (scenario) => {
    const checks = run.scenarios.get(scenario) ?? [];
    const failing = checks.filter((c) => c.status === "FAILURE");
    const expected = EXPECTED_FAILURES[scenario]?.checks ?? [];
    expect(
      failing.map((c) => ({ id: c.id, error: c.errorMessage })),
      JSON.stringify(EXPECTED_FAILURES[scenario]?.reason ?? "must pass"),
    ).toEqual(expected.map((id) => ({ id, error: expect.anything() })));
  });
});
