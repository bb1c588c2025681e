/**
 * `async-tools jobs answer` in process on a store file a runtime owns: `--question` names the question an
 * answer is for, and a bare answer is taken only when the job waits on exactly one question.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../define.ts";
import { createAsyncTools } from "../runtime/runtime.ts";
import { run } from "./run.ts";

/** Asks two questions at once and returns both answers. */
const pair = defineAsyncTool({
  name: "pair",
  description: "Asks for a colour and a size at once",
  input: z.object({ order: z.string() }),
  run: async (ctx) => {
    const [colour, size] = await Promise.all([
      ctx.ask("colour", { message: "Which colour?", schema: z.object({ colour: z.string() }) }),
      ctx.ask("size", { message: "Which size?", schema: z.object({ size: z.number() }) }),
    ]);
    return { colour, size };
  },
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, {
    out: (text) => {
      out += `${text}\n`;
    },
    err: (text) => {
      err += `${text}\n`;
    },
    env: {},
    now: () => Date.now(),
  });
  return { code, out, err };
}

describe("async-tools jobs answer", () => {
  it("answers the question --question names, and a bare answer only when one question is open", async () => {
    using dir = tempDir("cli-answer");
    const store = join(dir.path, "jobs.db");
    await using runtime = await createAsyncTools({ store, tools: [pair] });
    const { jobId } = await runtime.start(pair, { order: "A-1" });
    const open = async () => ((await runtime.probe([jobId]))[0]?.questions ?? []).map((q) => q.id);
    await expect.poll(open, { timeout: 30_000 }).toEqual([`${jobId}/colour`, `${jobId}/size`]);
    const answer = (json: unknown, ...flags: string[]) =>
      cli("jobs", "answer", jobId, "--store", store, ...flags, "--json", JSON.stringify(json));

    const guessed = await answer({ action: "accept", content: { colour: "red" } });
    expect(guessed.code).toBe(1);
    expect(guessed.err).toContain(
      `Job ${jobId} waits on 2 questions (${jobId}/colour, ${jobId}/size): name the one this answer is for ` +
        "with --question ID",
    );
    expect(await open()).toHaveLength(2);

    const named = await answer(
      { action: "accept", content: { colour: "red" } },
      "--question",
      `${jobId}/colour`,
    );
    expect(named).toMatchObject({ code: 0, err: "" });
    expect(named.out).toContain(`Answered ${jobId}/colour`);
    await expect.poll(open).toEqual([`${jobId}/size`]);

    const wrong = await answer({ action: "accept", content: { size: 3 } }, "--question", `${jobId}/colour`);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain(`has no open question ${jobId}/colour`);

    const bare = await answer({ action: "accept", content: { size: 3 } });
    expect(bare).toMatchObject({ code: 0, err: "" });
    const [done] = await runtime.wait([jobId], { timeoutMs: 30_000 });
    expect(done).toMatchObject({
      status: "completed",
      result: {
        colour: { action: "accept", content: { colour: "red" } },
        size: { action: "accept", content: { size: 3 } },
      },
    });

    const late = await answer({ action: "decline" });
    expect(late.code).toBe(1);
    expect(late.err).toContain(`Job ${jobId} waits on no question now.`);
  });

  it("takes several answers keyed by question ID in one call", async () => {
    using dir = tempDir("cli-answer");
    const store = join(dir.path, "jobs.db");
    await using runtime = await createAsyncTools({ store, tools: [pair] });
    const { jobId } = await runtime.start(pair, { order: "A-2" });
    await expect
      .poll(async () => (await runtime.probe([jobId]))[0]?.questions?.length, { timeout: 30_000 })
      .toBe(2);
    const both = await cli(
      "jobs",
      "answer",
      jobId,
      "--store",
      store,
      "--json",
      JSON.stringify({
        [`${jobId}/colour`]: { action: "decline" },
        [`${jobId}/size`]: { action: "accept", content: { size: 5 } },
      }),
    );
    expect(both).toMatchObject({ code: 0, err: "" });
    const [done] = await runtime.wait([jobId], { timeoutMs: 30_000 });
    expect(done?.result).toEqual({
      colour: { action: "decline" },
      size: { action: "accept", content: { size: 5 } },
    });
  });
});
