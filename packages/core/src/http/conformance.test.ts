import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { budget } from "../../../../vitest.budgets.ts";
import { rig } from "../../test/http-rig.ts";
import { createMcpHandler as v1Face } from "../mcp/v1/http-handler.ts";
import { createMcpHandler as v2Face } from "../mcp/v2/http-handler.ts";

const CLI = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "conformance");

/** The server scenarios of `@modelcontextprotocol/conformance` that apply to any server, whatever its tools. */
const SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"];

/** Runs one scenario of the official CLI against `url`; resolves with its exit code and output. */
function conformance(url: string, scenario: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      CLI,
      ["server", "--url", url, "--scenario", scenario],
      { timeout: budget(60_000) },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe.each([
  ["v1 face, stateless", v1Face, false],
  ["v1 face, stateful", v1Face, true],
  ["v2 face, stateless", v2Face, false],
  ["v2 face, stateful", v2Face, true],
] as const)("official conformance scenarios, %s", (_mode, face, stateful) => {
  it.each(SCENARIOS)("passes %s", async (scenario) => {
    const r = await rig({ stateful, face: (runtime) => face(runtime) });
    const { code, output } = await conformance(r.server.url, scenario);
    expect(output).toMatch(/Passed: (\d+)\/\1, 0 failed/);
    expect(code).toBe(0);
  });
});
