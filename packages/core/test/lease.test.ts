/**
 * A step that runs longer than the task lease must run once: while the process that holds a job lives, its
 * lease is renewed. The lease is made short (1 s) and the step long (5 s), so no test waits on the default.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv } from "@async-tools/test-helpers/children";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";

const LEASE_MS = 1000;
const STEP_MS = 5000;
const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-lease-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("a step longer than the task lease", () => {
  for (const store of ["sqlite", "memory"] as const) {
    it(`runs once while its process lives (${store} store)`, async () => {
      const spec = store === "sqlite" ? `sqlite:${join(tempDir(), "jobs.db")}` : "memory";
      let runs = 0;
      const slow = defineAsyncTool({
        name: "slow",
        description: "One step longer than the lease",
        input: z.object({ n: z.number() }),
        run: async (ctx, { n }) =>
          ctx.run("long", async () => {
            runs += 1;
            await new Promise((resolve) => setTimeout(resolve, STEP_MS));
            return n;
          }),
      });
      const runtime = await createAsyncTools({ tools: [slow], store: spec, leaseMs: LEASE_MS });
      cleanup.push(() => runtime.close());
      const { jobId } = await runtime.start(slow, { n: 7 });
      const [done] = await runtime.wait([jobId], { timeoutMs: STEP_MS * 4 });
      expect(done?.status).toBe("completed");
      expect(runs).toBe(1);
    });
  }

  it("runs once when started through MCP over stdio", async () => {
    const dir = tempDir();
    const sideEffects = join(dir, "effects.log");
    const base = childEnv();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=@async-tools/source", SERVER],
      env: {
        ...base,
        ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`,
        SIDE_EFFECTS: sideEffects,
        STEP2_MS: String(STEP_MS),
        LEASE_MS: String(LEASE_MS),
      },
      stderr: "pipe",
    });
    transport.stderr?.on("data", () => undefined);
    const client = new Client({ name: "lease-test", version: "0" });
    await client.connect(transport);
    cleanup.push(() => client.close().catch(() => undefined));
    const started = (await client.callTool({ name: "start_steps", arguments: { n: 1 } })) as CallToolResult;
    const id = (started.structuredContent as { job_id: string }).job_id;
    const awaited = (await client.callTool(
      { name: "await_steps", arguments: { job_ids: [id], timeout_seconds: 20 } },
      undefined,
    )) as CallToolResult;
    expect((awaited.structuredContent as { jobs: { status: string }[] }).jobs[0]?.status).toBe("completed");
    const lines = readFileSync(sideEffects, "utf8").split("\n").filter(Boolean);
    expect(lines).toEqual([`${id} 1`, `${id} 2`, `${id} 3`]);
  });
});
