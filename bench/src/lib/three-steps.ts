/**
 * The job the peer comparisons run on our side: three durable steps that each return at once, the same work
 * BullMQ's worker and DBOS's workflow do. `name` keeps the two scenarios' jobs apart in one store.
 */
import { defineAsyncTool } from "@async-tools/core";
import { z } from "zod";

/** A three-step durable tool named `name`, without retries or a task tool, 64 jobs at once. */
export function threeStepTool(name: string) {
  return defineAsyncTool({
    name,
    description: "Three durable steps that each return at once",
    input: z.object({ n: z.number().int() }),
    output: z.object({ total: z.number() }),
    retry: false,
    concurrency: 64,
    toolNames: { task: false },
    run: async (ctx, { n }) => {
      let total = 0;
      for (const step of [1, 2, 3]) total += await ctx.run(`step${step}`, async () => n * step);
      return { total };
    },
  });
}
