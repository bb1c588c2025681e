/**
 * Type-level tests: what the compiler must accept and refuse. `pnpm typecheck` runs them (vitest only runs
 * the enclosing functions); `@ts-expect-error` fails the typecheck when the line it guards compiles.
 */
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type AnyAsyncTool,
  type AsyncTool,
  type AsyncTools,
  createAsyncTools,
  defineAsyncTool,
  type JobContext,
  type JobSnapshot,
  type StartedJob,
} from "./index.ts";

const typed = defineAsyncTool({
  name: "typed",
  description: "Types flow",
  input: z.object({ n: z.number(), label: z.string().default("x") }),
  run: async (ctx, input) => {
    expectTypeOf(ctx).toEqualTypeOf<JobContext>();
    expectTypeOf(input).toEqualTypeOf<{ n: number; label: string }>();
    const doubled = await ctx.run("double", async () => input.n * 2);
    expectTypeOf(doubled).toEqualTypeOf<number>();
    // Steps and sleeps are promises, so `.catch` and `.finally` type-check as the docs show.
    expectTypeOf(ctx.run("double", () => input.n * 2)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(ctx.sleep(1)).toEqualTypeOf<Promise<void>>();
    return { doubled, label: input.label };
  },
});

describe("types", () => {
  it("types run's input as the schema's output and start's input as the schema's input", () => {
    expectTypeOf(typed).toExtend<
      AsyncTool<z.ZodObject<{ n: z.ZodNumber; label: z.ZodDefault<z.ZodString> }>>
    >();
    expectTypeOf<Parameters<AsyncTools["start"]>>().toBeArray();
    // label has a default, so a caller may leave it out.
    expectTypeOf<Parameters<typeof start>[1]>().toEqualTypeOf<{ n: number; label?: string | undefined }>();
  });

  it("gives start, waitFor and results the type run returns", () => {
    expectTypeOf<ReturnType<typeof start>>().toEqualTypeOf<
      Promise<StartedJob<{ doubled: number; label: string }>>
    >();
    expectTypeOf<ReturnType<typeof waitFor>>().toEqualTypeOf<
      Promise<JobSnapshot<{ doubled: number; label: string }>>
    >();
    expectTypeOf<JobSnapshot<{ doubled: number }>["result"]>().toEqualTypeOf<
      { doubled: number } | undefined
    >();
  });

  it("accepts every definition as AnyAsyncTool, whatever its types", () => {
    const other = defineAsyncTool({
      name: "other",
      description: "x",
      input: z.object({}),
      run: async () => "s",
    });
    expectTypeOf([typed, other]).toExtend<AnyAsyncTool[]>();
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

  it("refuses wrong inputs at start and a runtime without its tools", () => {
    // @ts-expect-error n must be a number
    expectTypeOf(start).toBeCallableWith(typed, { n: "1" });
    // @ts-expect-error the tools are part of the runtime's lifecycle
    expectTypeOf(createAsyncTools).toBeCallableWith({ store: "memory" });
    expectTypeOf(createAsyncTools).toBeCallableWith({ store: "memory", tools: [typed] });
  });
});

declare const runtime: AsyncTools;
const start = (tool: typeof typed, input: z.input<typeof typed.input>) => runtime.start(tool, input);
const waitFor = (id: string) => runtime.waitFor(typed, id, 1000);
