import { afterAll, expect, it, vi } from "vitest";
import { z } from "zod";

// The unit project shares one module registry between the files of a worker (`isolate: false`): start from a
// fresh one, where `@opentelemetry/api` is missing, and leave a fresh one without the mock to the next file.
afterAll(() => {
  vi.doUnmock("@opentelemetry/api");
  vi.resetModules();
});

it("is off, and jobs run, when @opentelemetry/api cannot be imported", async () => {
  vi.resetModules();
  vi.doMock("@opentelemetry/api", () => {
    throw new Error("Cannot find package '@opentelemetry/api'");
  });
  const { loadTelemetry } = await import("./telemetry.ts");
  expect(await loadTelemetry()).toBeUndefined();
  const { createAsyncTools } = await import("./runtime.ts");
  const { defineAsyncTool } = await import("../define.ts");
  const echo = defineAsyncTool({
    name: "echo",
    description: "Echoes",
    input: z.object({ n: z.number() }),
    run: async (ctx, { n }) => ctx.run("echo", () => n),
  });
  await using runtime = await createAsyncTools({ store: "memory", tools: [echo] });
  const job = await runtime.start(echo, { n: 2 });
  expect((await runtime.waitFor(echo, job.jobId, 5000)).result).toBe(2);
});
