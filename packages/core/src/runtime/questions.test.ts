import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../index.ts";
import type { JobSnapshot } from "./job.ts";
import { checkContent, toRequestedSchema } from "./questions.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-ask-"));
  dirs.push(dir);
  return join(dir, "jobs.db");
}

/** A tool that counts its steps, asks for a confirmation, and reports what it got. */
function approvalTool(
  counts: { before: number; after: number },
  extra: Partial<{ concurrency: number }> = {},
) {
  return defineAsyncTool({
    name: "approve",
    description: "Asks before it finishes",
    input: z.object({ n: z.number() }),
    concurrency: extra.concurrency ?? 10,
    run: async (ctx, { n }) => {
      const before = await ctx.run("before", () => {
        counts.before += 1;
        return n * 2;
      });
      const answer = await ctx.ask("confirm", {
        message: `Go ahead with ${before}?`,
        schema: z.object({ proceed: z.boolean(), note: z.string().max(20).optional() }),
      });
      const after = await ctx.run("after", () => {
        counts.after += 1;
        return answer.action === "accept" ? answer.content.proceed : answer.action;
      });
      return { before, after };
    },
  });
}

async function until(
  read: () => Promise<JobSnapshot>,
  ok: (s: JobSnapshot) => boolean,
): Promise<JobSnapshot> {
  for (;;) {
    const snapshot = await read();
    if (ok(snapshot)) return snapshot;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a job that asks", () => {
  it("waits input_required with its question, holding no slot, and resumes with the answer", async () => {
    const counts = { before: 0, after: 0 };
    const tool = approvalTool(counts, { concurrency: 1 });
    await using tools = await createAsyncTools({ store: storePath(), tools: [tool] });
    const first = await tools.start(tool, { n: 1 });
    const asking = await until(
      async () => (await tools.probe([first.jobId]))[0] as JobSnapshot,
      (s) => s.status === "input_required",
    );
    const question = asking.questions?.[0];
    expect(question).toMatchObject({
      id: `${first.jobId}/confirm`,
      kind: "elicitation",
      name: "confirm",
      request: {
        mode: "form",
        message: "Go ahead with 2?",
        requestedSchema: { type: "object", required: ["proceed"] },
      },
    });
    // The parked job holds no slot: a second job of this one-slot tool runs up to its own question.
    const second = await tools.start(tool, { n: 2 });
    await until(
      async () => (await tools.probe([second.jobId]))[0] as JobSnapshot,
      (s) => s.status === "input_required",
    );
    // An await returns at once for a job that waits for an answer.
    const [waited] = await tools.wait([first.jobId], { timeoutMs: 30_000 });
    expect(waited?.status).toBe("input_required");

    const id = question?.id as string;
    expect(
      await tools.answer(first.jobId, { [id]: { action: "accept", content: { proceed: "yes" } } }),
    ).toEqual({
      status: "invalid",
      problem: {
        code: "refused",
        questionId: id,
        issue: expect.stringContaining("proceed must be true or false"),
      },
    });
    expect(await tools.answer(first.jobId, { [`${id}x`]: { action: "decline" } })).toMatchObject({
      status: "invalid",
      problem: { code: "no_such_question", questionId: `${id}x`, open: [id] },
    });
    expect(await tools.answer("approve-nope", { [id]: { action: "decline" } })).toEqual({
      status: "not_found",
    });
    expect(
      await tools.answer(first.jobId, { [id]: { action: "accept", content: { proceed: true } } }),
    ).toEqual({
      status: "ok",
    });
    expect(await tools.waitFor(tool, first.jobId, 30_000)).toMatchObject({
      status: "completed",
      result: { before: 2, after: true },
    });
    const secondQuestion = `${second.jobId}/confirm`;
    expect(await tools.answer(second.jobId, { [secondQuestion]: { action: "decline" } })).toEqual({
      status: "ok",
    });
    expect(await tools.waitFor(tool, second.jobId, 30_000)).toMatchObject({
      status: "completed",
      result: { before: 4, after: "decline" },
    });
    expect(counts).toEqual({ before: 2, after: 2 });
    expect(await tools.answer(first.jobId, { [id]: { action: "decline" } })).toEqual({
      status: "invalid",
      problem: { code: "not_asking", status: "completed" },
    });
  });

  it("answers for its owner only: another principal's answer is not_found", async () => {
    const counts = { before: 0, after: 0 };
    const tool = approvalTool(counts);
    await using tools = await createAsyncTools({ store: "memory", tools: [tool] });
    const job = await tools.start(tool, { n: 3 }, { principal: "alice" });
    await until(
      async () => (await tools.probe([job.jobId], { principal: "alice" }))[0] as JobSnapshot,
      (s) => s.status === "input_required",
    );
    const answer = { [`${job.jobId}/confirm`]: { action: "cancel" } };
    expect(await tools.answer(job.jobId, answer, { principal: "bob" })).toEqual({ status: "not_found" });
    expect(await tools.answer(job.jobId, answer)).toEqual({ status: "not_found" });
    expect(await tools.answer(job.jobId, answer, { principal: "alice" })).toEqual({ status: "ok" });
    expect(await tools.waitFor(tool, job.jobId, 30_000, { principal: "alice" })).toMatchObject({
      result: { after: "cancel" },
    });
  });

  it("times out as the author says: a default answer, or a failed job", async () => {
    const make = (onTimeout: "fail" | { action: "decline" }) =>
      defineAsyncTool({
        name: `timeout_${typeof onTimeout === "string" ? onTimeout : "default"}`,
        description: "Asks and gives up",
        input: z.object({}),
        run: async (ctx) => {
          const answer = await ctx.ask("confirm", {
            message: "Anyone?",
            schema: z.object({ ok: z.boolean() }),
            timeoutMs: 1_500,
            onTimeout,
          });
          return { action: answer.action };
        },
      });
    const defaulting = make({ action: "decline" });
    const failing = make("fail");
    await using tools = await createAsyncTools({ store: storePath(), tools: [defaulting, failing] });
    const a = await tools.start(defaulting, {});
    const b = await tools.start(failing, {});
    const asking = await until(
      async () => (await tools.probe([a.jobId]))[0] as JobSnapshot,
      (s) => s.status === "input_required" || s.status === "completed",
    );
    expect(asking.questions?.[0]?.timeoutAt).toBeGreaterThan(Date.now() - 1_000);
    const defaulted = await until(
      async () => (await tools.probe([a.jobId]))[0] as JobSnapshot,
      (s) => s.status === "completed",
    );
    expect((await tools.waitFor(defaulting, defaulted.jobId, 0)).result).toEqual({ action: "decline" });
    const failed = await until(
      async () => (await tools.probe([b.jobId]))[0] as JobSnapshot,
      (s) => s.status === "failed",
    );
    expect(failed.error).toMatchObject({
      code: "failed",
      message: expect.stringMatching(/No answer to question .*confirm within 2 s/),
    });
  });
});

describe("the form of a question", () => {
  it("converts a flat zod object and refuses nested ones", () => {
    const schema = toRequestedSchema(
      z.object({
        name: z.string().min(1),
        count: z.number().int().max(5),
        colour: z.enum(["red", "blue"]),
        tags: z.array(z.enum(["a", "b"])),
        ok: z.boolean().optional(),
      }),
      "form",
    );
    expect(schema.required).toEqual(["name", "count", "colour", "tags"]);
    expect(checkContent(schema, { name: "x", count: 2, colour: "red", tags: ["a"] })).toBeUndefined();
    expect(checkContent(schema, { name: "x", count: 2.5, colour: "red", tags: [] })).toBe(
      "count must be an integer.",
    );
    expect(checkContent(schema, { name: "x", count: 2, colour: "green", tags: [] })).toMatch(
      /colour must be one of/,
    );
    expect(checkContent(schema, { count: 2, colour: "red", tags: [] })).toBe("name is required.");
    expect(() => toRequestedSchema(z.object({ nested: z.object({ a: z.string() }) }), "bad")).toThrow(
      /not a primitive or an enumeration/,
    );
  });
});
