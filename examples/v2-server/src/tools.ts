/**
 * The example's async tool: `tally` adds up a list of numbers in three durable steps (count, sum, label),
 * each a checkpoint, so a crash in the middle resumes after the last finished step. Two environment
 * variables make it useful to tests: TALLY_STEP_MS (how long the middle step takes) and TALLY_LOG (a file
 * that gets one line "<job ID> <step>" each time a step begins).
 */
import { appendFileSync } from "node:fs";
import { defineAsyncTool } from "@async-tools/core";
import { z } from "zod";

const stepMs = Number(process.env.TALLY_STEP_MS ?? 0);
const logFile = process.env.TALLY_LOG;

function began(jobId: string, step: string): void {
  if (logFile !== undefined) appendFileSync(logFile, `${jobId} ${step}\n`);
}

export const tally = defineAsyncTool({
  name: "tally",
  description: "Adds up a list of numbers, slowly",
  input: z.object({
    numbers: z.array(z.number()).min(1).describe("The numbers to add up"),
    label: z.string().default("total").describe("What to call the sum"),
  }),
  output: z.object({ label: z.string(), count: z.number(), sum: z.number() }),
  run: async (ctx, { numbers, label }) => {
    const count = await ctx.run("count", () => {
      began(ctx.jobId, "count");
      return numbers.length;
    });
    ctx.progress(1 / 3, "counted");
    const sum = await ctx.run("sum", async () => {
      began(ctx.jobId, "sum");
      await new Promise((resolve) => setTimeout(resolve, stepMs));
      return numbers.reduce((a, b) => a + b, 0);
    });
    ctx.progress(2 / 3, "summed");
    const named = await ctx.run("label", () => {
      began(ctx.jobId, "label");
      return label;
    });
    return { label: named, count, sum };
  },
});
