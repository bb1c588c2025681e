import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../src/index.ts";
import { connect } from "./helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes its input",
  input: z.object({ text: z.string() }),
  run: async (ctx, { text }) => ctx.run("echo", () => text),
});

describe("retention", () => {
  it("removes finished jobs past retention and probe then says they expired", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-retention-"));
    dirs.push(dir);
    const store = `sqlite:${join(dir, "jobs.db")}`;
    let jobId: string;
    {
      await using c = await connect([echo], store);
      jobId = structured<{ job_id: string }>(await c.call("start_echo", { text: "hi" })).job_id;
      const done = structured<{ jobs: { status: string }[] }>(
        await c.call("await_echo", { job_ids: [jobId] }),
      );
      expect(done.jobs[0]?.status).toBe("completed");
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    {
      await using c = await connect([echo], store, { retentionMs: 10 });
      const probed = structured<{ jobs: { status: string; error?: string }[] }>(
        await c.call("probe_echo", { job_ids: [jobId] }),
      );
      expect(probed.jobs[0]).toMatchObject({
        status: "expired",
        error: expect.stringContaining("retention"),
      });
      const again = structured<{ job_id: string; created: boolean }>(
        await c.call("start_echo", { text: "hi" }),
      );
      expect(again).toMatchObject({ job_id: jobId, created: true });
    }
    expect(statSync(join(dir, "jobs.db")).size).toBeGreaterThan(0);
  });
});
