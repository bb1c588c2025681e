import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type AsyncTool,
  type AsyncTools,
  defineAsyncTool,
  type JobContext,
  type JobSnapshot,
} from "./index.ts";

describe("types", () => {
  it("gives run the zod output of the input and await the return type of run", () => {
    const tool = defineAsyncTool({
      name: "typed",
      description: "Types flow",
      input: z.object({ n: z.number(), label: z.string().default("x") }),
      run: async (ctx, input) => {
        expectTypeOf(ctx).toEqualTypeOf<JobContext>();
        expectTypeOf(input).toEqualTypeOf<{ n: number; label: string }>();
        const doubled = await ctx.run("double", async () => input.n * 2);
        expectTypeOf(doubled).toEqualTypeOf<number>();
        return { doubled, label: input.label };
      },
    });
    expectTypeOf(tool).toExtend<AsyncTool>();
    type Start = AsyncTools["start"];
    expectTypeOf<Parameters<Start>>().toBeArray();
    const waitFor = null as unknown as AsyncTools["waitFor"];
    expectTypeOf<
      ReturnType<typeof waitFor<typeof tool.input, { doubled: number; label: string }>>
    >().toEqualTypeOf<Promise<JobSnapshot<{ doubled: number; label: string }>>>();
  });

  it("checks the output schema against what run returns", () => {
    defineAsyncTool({
      name: "checked",
      description: "Output checked",
      input: z.object({}),
      output: z.object({ ok: z.boolean() }),
      // @ts-expect-error run must return what output describes
      run: async () => ({ ok: "yes" }),
    });
  });
});
