/**
 * Durable questions on the Postgres store (a throwaway cluster): a job asks on one runtime, that runtime
 * closes, and another runtime on the same database takes the answer and finishes the job; a question with a
 * timeout is settled by the store's own deadline.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { childEnv } from "@async-tools/test-helpers/children";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AsyncTools, createAsyncTools, defineAsyncTool, type JobSnapshot } from "../src/index.ts";
import { QUESTION_TAG } from "../src/store/store.ts";

const unavailable = postgresUnavailable();
const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");

const counts = { priced: 0, placed: 0 };
const approve = defineAsyncTool({
  name: "pg_approve",
  description: "Asks before it places an order",
  input: z.object({ items: z.number(), timeoutMs: z.number().optional() }),
  run: async (ctx, { items, timeoutMs }) => {
    const cost = await ctx.run("price", () => {
      counts.priced += 1;
      return items * 3;
    });
    const answer = await ctx.ask("confirm", {
      message: `Spend $${cost}?`,
      schema: z.object({ place: z.boolean() }),
      ...(timeoutMs === undefined ? {} : { timeoutMs, onTimeout: { action: "decline" as const } }),
    });
    await ctx.run("place", () => {
      counts.placed += 1;
      return null;
    });
    return { cost, action: answer.action };
  },
});

async function until(
  runtime: AsyncTools,
  id: string,
  status: string,
  budgetMs = Number.POSITIVE_INFINITY,
): Promise<JobSnapshot> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const [job] = await runtime.probe([id]);
    if (job?.status === status) return job;
    if (Date.now() > deadline)
      throw new Error(`job ${id} is ${job?.status}, not ${status}: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(unavailable !== undefined)("questions on the Postgres store", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
    cluster.createDatabase("ask");
    await promisify(execFile)(
      process.execPath,
      ["--conditions=@async-tools/source", CLI, "store", "init", "--store", cluster.url("ask")],
      { env: childEnv() },
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("resumes on another runtime of the database with the answer given there", async () => {
    const first = await createAsyncTools({ store: cluster.url("ask"), tools: [approve] });
    const job = await first.start(approve, { items: 4 });
    const asking = await until(first, job.jobId, "input_required");
    expect(asking.questions?.[0]).toMatchObject({ id: `${job.jobId}/confirm`, kind: "elicitation" });
    await first.close();

    await using second = await createAsyncTools({ store: cluster.url("ask"), tools: [approve] });
    expect(
      await second.answer(job.jobId, {
        [`${job.jobId}/confirm`]: { action: "accept", content: { place: true } },
      }),
    ).toEqual({ status: "ok" });
    await until(second, job.jobId, "completed");
    expect((await second.waitFor(approve, job.jobId, 0)).result).toEqual({ cost: 12, action: "accept" });
    expect(counts).toEqual({ priced: 1, placed: 1 });
  }, 120_000);

  it("parks a job on a question with no timeout: its task is suspended in the store, no attempt fails", async () => {
    // resonate.sql lets a task suspend only on an external promise; the SDK's own servers also count the
    // global scope as external, Postgres does not. A question promise that is not external gets a 422 on
    // every suspend, so the job never parked: it was released and retried until an answer came.
    await using runtime = await createAsyncTools({ store: cluster.url("ask"), tools: [approve] });
    const job = await runtime.start(approve, { items: 2 });
    await until(runtime, job.jobId, "input_required");
    const taskState = () =>
      cluster.psql(`SELECT state FROM resonate.tasks WHERE id = '${job.jobId}'`, "ask").trim();
    await expect.poll(taskState, { timeout: 30_000 }).toBe("suspended");
    // Parked, it stays parked: no retry loop re-acquires it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(taskState()).toBe("suspended");
    expect(
      await runtime.answer(job.jobId, {
        [`${job.jobId}/confirm`]: { action: "accept", content: { place: false } },
      }),
    ).toEqual({ status: "ok" });
    expect((await runtime.waitFor(approve, job.jobId, 30_000)).result).toEqual({ cost: 6, action: "accept" });
  }, 120_000);

  it("fails a job the store refuses a request of for good (a 4xx), instead of retrying it at once forever", async () => {
    // A store that answers 422 to the job's suspend: the question promise made internal to resonate.sql again
    // (as before edf89a5), by a trigger on this database only. The SDK released the task on every refusal, so
    // the store handed it straight back: one pass (and a warning) every few milliseconds, for good.
    cluster.createDatabase("refuse");
    await promisify(execFile)(
      process.execPath,
      ["--conditions=@async-tools/source", CLI, "store", "init", "--store", cluster.url("refuse")],
      { env: childEnv() },
    );
    cluster.psql(
      `CREATE FUNCTION public.internal_question() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.tags := NEW.tags - 'resonate:external'; RETURN NEW; END $$;
       CREATE TRIGGER internal_question BEFORE INSERT ON resonate.promises FOR EACH ROW
         WHEN (NEW.tags ? '${QUESTION_TAG}' AND NOT NEW.tags ? 'resonate:target') EXECUTE FUNCTION public.internal_question();`,
      "refuse",
    );
    let passes = 0;
    const refused = defineAsyncTool({
      name: "pg_refused",
      description: "Asks a question the store will not let it wait for",
      input: z.object({ n: z.number() }),
      run: async (ctx) => {
        passes += 1;
        const answer = await ctx.ask("confirm", { message: "Go?", schema: z.object({ go: z.boolean() }) });
        return answer.action;
      },
    });
    await using runtime = await createAsyncTools({ store: cluster.url("refuse"), tools: [refused] });
    const job = await runtime.start(refused, { n: 1 });
    const failed = await until(runtime, job.jobId, "failed", 30_000);
    expect(failed.error).toMatchObject({ code: "failed" });
    expect(JSON.stringify(failed.error)).toContain("422");
    // A few passes raced the failure; not the hundreds a hot loop makes.
    expect(passes).toBeLessThan(10);
  }, 120_000);

  it("times a question out at the store's deadline", async () => {
    await using runtime = await createAsyncTools({ store: cluster.url("ask"), tools: [approve] });
    const job = await runtime.start(approve, { items: 1, timeoutMs: 1_500 });
    await until(runtime, job.jobId, "completed");
    expect((await runtime.waitFor(approve, job.jobId, 0)).result).toEqual({ cost: 3, action: "decline" });
  }, 120_000);
});
