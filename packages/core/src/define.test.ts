/**
 * A definition: its result renderer travels as source text (each way of writing it, and the ones that cannot),
 * and its job context's steps are promises.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool, PermanentError, type RenderKit } from "./index.ts";

const kit: RenderKit = { escape: (value) => String(value).replace(/</g, "&lt;"), theme: "light" };

function withRenderer(render: (result: { n: number }, kit: RenderKit) => string) {
  return defineAsyncTool({
    name: "n",
    description: "A number",
    input: z.object({}),
    output: z.object({ n: z.number() }),
    run: async () => ({ n: 1 }),
    view: { render },
  });
}

describe("a definition's view.render", () => {
  it("is sent as source that runs alone, whether an arrow, a function or a method", () => {
    const forms = [
      withRenderer((result, k) => `<b>${k.escape(result.n)}</b>`),
      withRenderer(function bold(result, k) {
        return `<b>${k.escape(result.n)}</b>`;
      }),
      defineAsyncTool({
        name: "m",
        description: "A number",
        input: z.object({}),
        run: async () => ({ n: 1 }),
        view: {
          render(result, k) {
            return `<b>${k.escape(result.n)}</b>`;
          },
        },
      }),
    ];
    for (const tool of forms) {
      const render = new Function(`return ${tool.view?.source};`)() as (r: unknown, k: RenderKit) => string;
      expect(render({ n: "<7" }, kit)).toBe("<b>&lt;7</b>");
    }
  });

  it("refuses a renderer that has no source to send", () => {
    const bound = ((result: { n: number }) => String(result.n)).bind(null);
    expect(() => withRenderer(bound)).toThrow(/view\.render has no source the job view can run/);
    expect(() => withRenderer("nope" as never)).toThrow(/view\.render must be a function/);
  });
});

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
