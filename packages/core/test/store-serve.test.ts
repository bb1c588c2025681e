/**
 * `async-tools store serve` as a real child process, with servers reaching it at
 * `ASYNC_TOOLS_STORE=http://127.0.0.1:N` and its token in `ASYNC_TOOLS_STORE_TOKEN`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { startStoreServe } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  delete process.env.ASYNC_TOOLS_STORE_TOKEN;
});

const double = defineAsyncTool({
  name: "double",
  description: "Doubles n",
  input: z.object({ n: z.number() }),
  output: z.object({ value: z.number() }),
  run: async (ctx, { n }) => {
    ctx.progress(0.5, "thinking");
    const value = await ctx.run("double", () => n * 2);
    return { value };
  },
});

describe("async-tools store serve", () => {
  it("serves one store to several processes, which share jobs and their metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-serve-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { url } = await startStoreServe(join(dir, "jobs.db"), "secret-token", cleanup);
    process.env.ASYNC_TOOLS_STORE_TOKEN = "secret-token";
    const a = await createAsyncTools({ store: url, tools: [double] });
    cleanup.push(() => a.close());
    const b = await createAsyncTools({ store: url, tools: [double] });
    cleanup.push(() => b.close());
    const job = await a.start(double, { n: 21 });
    const done = await b.waitFor(double, job.jobId, 10_000);
    expect(done.result).toEqual({ value: 42 });
    expect(done.tool).toBe("double");
    expect(done.progress?.fraction).toBe(1);
    const again = await b.start(double, { n: 21 });
    expect(again).toMatchObject({ jobId: job.jobId, created: false });
  });

  it("refuses a process without the token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-serve-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { url } = await startStoreServe(join(dir, "jobs.db"), "secret-token", cleanup);
    await expect(createAsyncTools({ store: url, tools: [] })).rejects.toMatchObject({
      code: "STORE_UNREACHABLE",
    });
  });
});
