/** A definition's result renderer travels as source text: each way of writing it, and the ones that cannot. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool, type RenderKit } from "./index.ts";

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
