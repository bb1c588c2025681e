/**
 * What a tool's policies promise under real use: a concurrency limit with durable, ordered queueing, retries
 * that show themselves, and versions that keep or refuse old jobs clearly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool, type JobSnapshot } from "../src/index.ts";
import { errorText } from "../src/mcp/text.ts";
import { connectInMemory } from "../src/testing/index.ts";
import { gate } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  vi.restoreAllMocks();
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-policies-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, "jobs.db")}`;
}

describe("concurrency", () => {
  it("runs at most `concurrency` jobs of a tool, queues the rest with their place, and runs them in start order", async () => {
    const hold = gate();
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const tool = defineAsyncTool({
      name: "limited",
      description: "Holds a slot",
      input: z.object({ n: z.number() }),
      concurrency: 2,
      run: async (ctx, { n }) =>
        ctx.run("work", async () => {
          running += 1;
          peak = Math.max(peak, running);
          order.push(n);
          await hold.promise;
          running -= 1;
          return n;
        }),
    });
    const c = await connectInMemory([tool]);
    cleanup.push(() => c.close());
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) {
      const began = Date.now();
      const started = await c.call("start_limited", { n });
      expect(Date.now() - began).toBeLessThan(1000);
      ids.push((started.structuredContent as { job_id: string }).job_id);
    }
    await expect.poll(() => running).toBe(2);
    const probed = (await c.call("probe_limited", { job_ids: ids })).structuredContent as {
      jobs: { status: string; queue_position?: number }[];
    };
    expect(probed.jobs.map((j) => j.status)).toEqual([
      "working",
      "working",
      "queued",
      "queued",
      "queued",
      "queued",
    ]);
    expect(probed.jobs.map((j) => j.queue_position)).toEqual([undefined, undefined, 1, 2, 3, 4]);
    hold.open();
    const done = await c.runtime.wait(ids, { timeoutMs: 10_000 });
    expect(done.map((j) => j.status)).toEqual(Array(6).fill("completed"));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe("retries", () => {
  it("shows the step being retried in probe and logs each retry and the failure with job, step and error", async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    let attempts = 0;
    const flaky = defineAsyncTool({
      name: "flaky",
      description: "Fails with 503",
      input: z.object({}),
      retry: { attempts: 3, initialDelayMs: 400 },
      run: async (ctx) =>
        ctx.run("fetch", () => {
          attempts += 1;
          throw new Error("503 Service Unavailable");
        }),
    });
    const c = await connectInMemory([flaky]);
    cleanup.push(() => c.close());
    const { job_id } = (await c.call("start_flaky", {})).structuredContent as { job_id: string };
    await expect.poll(() => attempts).toBe(1);
    const probed = await c.call("probe_flaky", { job_ids: [job_id] });
    const job = (
      probed.structuredContent as { jobs: { status: string; retrying?: Record<string, unknown> }[] }
    ).jobs[0];
    expect(job?.status).toBe("working");
    expect(job?.retrying).toMatchObject({
      step: "fetch",
      attempt: 1,
      attempts: 3,
      error: "503 Service Unavailable",
    });
    const text = probed.content.map((p) => (p.type === "text" ? p.text : "")).join("");
    expect(text).toContain("retrying step 'fetch' (attempt 2 of 3): 503 Service Unavailable");
    const [failed] = await c.runtime.wait([job_id], { timeoutMs: 10_000 });
    expect(failed?.status).toBe("failed");
    expect(attempts).toBe(3);
    const retried = writes.filter((line) => line.includes(" async-tools step retried "));
    expect(retried).toHaveLength(2);
    expect(retried[0]).toMatch(
      /^\d{4}-\S+Z WARN +async-tools step retried job=flaky-\S+ tool=flaky step=fetch/,
    );
    expect(retried[0]).toContain('error="503 Service Unavailable"');
    expect(writes.some((line) => line.includes(" job failed ") && line.includes(job_id))).toBe(true);
  });
});

describe("versions", () => {
  /** Starts a job of `tool` that never finishes its step, then closes the runtime: a job left in flight. */
  async function interruptedJob(store: string, tool: ReturnType<typeof versioned>): Promise<string> {
    const runtime = await createAsyncTools({ store, tools: [tool] });
    const job = await runtime.start(tool, { n: 2 } as never);
    await expect.poll(async () => (await runtime.probe([job.jobId]))[0]?.progress?.message).toBe("working");
    await runtime.close();
    return job.jobId;
  }

  const never = new Promise<number>(() => undefined);
  function versioned(version: number, input: z.ZodObject, step: (n: number) => Promise<number> | number) {
    return defineAsyncTool({
      name: "render",
      description: "Renders",
      input,
      version,
      run: async (ctx, args) => {
        ctx.progress(0.5, "working");
        return ctx.run("render", () => step(Number(args.n)));
      },
    });
  }
  const nOnly = z.object({ n: z.number() });

  it("fails at once, naming the version, a job whose version is no longer registered", async () => {
    const store = tempStore();
    const id = await interruptedJob(
      store,
      versioned(1, nOnly, () => never),
    );
    const runtime = await createAsyncTools({ store, tools: [versioned(2, nOnly, (n) => n * 10)] });
    cleanup.push(() => runtime.close());
    const [job] = await runtime.wait([id], { timeoutMs: 5000 });
    expect(job?.status).toBe("failed");
    expect(job?.error).toEqual({ code: "version_gone", version: 1, versions: [2] });
    const said = errorText(job as JobSnapshot);
    expect(said).toContain("version 1 of render");
    expect(said).toContain("Start it again");
  });

  it("finishes an old job on the old code when that version stays registered", async () => {
    const store = tempStore();
    const id = await interruptedJob(
      store,
      versioned(1, nOnly, () => never),
    );
    const runtime = await createAsyncTools({
      store,
      tools: [versioned(1, nOnly, (n) => n + 1), versioned(2, nOnly, (n) => n * 10)],
    });
    cleanup.push(() => runtime.close());
    const [job] = await runtime.wait([id], { timeoutMs: 5000 });
    expect(job).toMatchObject({ status: "completed", result: 3 });
  });

  it("re-validates the input of a resumed job and fails it clearly when the schema changed", async () => {
    const store = tempStore();
    const id = await interruptedJob(
      store,
      versioned(1, nOnly, () => never),
    );
    const stricter = z.object({ n: z.number(), label: z.string() });
    const runtime = await createAsyncTools({ store, tools: [versioned(1, stricter, (n) => n)] });
    cleanup.push(() => runtime.close());
    const [job] = await runtime.wait([id], { timeoutMs: 5000 });
    expect(job?.status).toBe("failed");
    expect(job?.error).toMatchObject({
      code: "input_mismatch",
      version: 1,
      issues: [expect.stringMatching(/^label: /)],
    });
    expect(errorText(job as JobSnapshot)).toMatch(
      /input of job .* no longer matches render version 1 \(label: /,
    );
  });
});
