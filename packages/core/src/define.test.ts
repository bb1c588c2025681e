import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool, PermanentError } from "./index.ts";

describe("JobContext", () => {
  it("gives steps as promises: a failed step caught with .catch lets the job complete", async () => {
    const recovering = defineAsyncTool({
      name: "recovering",
      description: "Falls back when its step fails",
      input: z.object({}),
      run: async (ctx) =>
        ctx
          .run("flaky", (): string => {
            throw new PermanentError("upstream said no");
          })
          .catch((error: Error) => `fallback after: ${error.message}`),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [recovering] });
    const { jobId } = await runtime.start(recovering, {});
    const done = await runtime.waitFor(recovering, jobId, 20_000);
    expect(done).toMatchObject({ status: "completed", result: "fallback after: upstream said no" });
  });
});
