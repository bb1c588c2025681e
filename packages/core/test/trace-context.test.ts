import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { inMemoryOtel } from "@async-tools/test-helpers/otel";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { ATTR } from "../src/runtime/telemetry.ts";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";

const otel = inMemoryOtel();

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The steps of `fixtures/steps-server.ts`, for the process that resumes its job (no side effects here). */
const steps = defineAsyncTool({
  name: "steps",
  description: "Three durable steps",
  input: z.object({ n: z.number() }),
  run: async (ctx, { n }) => {
    const a = await ctx.run("one", () => n + 1);
    const b = await ctx.run("two", () => a * 2);
    return { total: await ctx.run("three", () => b + 1) };
  },
});

describe("a client's trace across a SIGKILL", () => {
  it("is in the job's log lines, and the job resumed after a restart continues it from the stored context", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-trace-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, "jobs.db")}`;
    const sideEffects = join(dir, "effects.log");

    const child = await startStdioChild(SERVER, {
      env: { ASYNC_TOOLS_STORE: store, SIDE_EFFECTS: sideEffects, STEP2_MS: "600000" },
    });
    cleanup.push(() => child.close());
    const started = await child.client.callTool({
      name: "start_steps",
      arguments: { n: 1 },
      _meta: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    });
    const jobId = (started.structuredContent as { job_id: string }).job_id;
    await expect.poll(() => sideEffectCounts(sideEffects).get(`${jobId} 2`), { timeout: 30_000 }).toBe(1);
    expect(child.stderr()).toMatch(new RegExp(`job started job=${jobId} tool=steps trace=${CLIENT_TRACE}`));
    child.kill();

    await using runtime = await createAsyncTools({ store, tools: [steps] });
    const done = await runtime.waitFor(steps, jobId, 60_000);
    expect(done.status).toBe("completed");
    await expect.poll(() => otel.spans().some((s) => s.name === "async_tools.job steps")).toBe(true);

    const execution = otel.span("async_tools.job steps");
    expect(execution?.attributes).toMatchObject({ [ATTR.jobId]: jobId, [ATTR.resumed]: true });
    expect(execution?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(execution?.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    // Step one was done before the crash and is replayed, not run: only two and three have spans here.
    const stepSpans = otel.spans().filter((s) => s.name.startsWith("async_tools.step "));
    expect(stepSpans.map((s) => s.name).sort()).toEqual(["async_tools.step three", "async_tools.step two"]);
    for (const step of stepSpans)
      expect(step.parentSpanContext?.spanId).toBe(execution?.spanContext().spanId);
  });
});
