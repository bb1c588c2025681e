import { AT_ONCE_MS } from "@async-tools/test-helpers/budgets";
import { errorText, structured } from "@async-tools/test-helpers/mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { autoClosing, gate, squareTool } from "../../../test/helpers.ts";
import { createAsyncTools, defineAsyncTool, PermanentError } from "../../index.ts";
import { registerTools } from "./register.ts";

const serve = autoClosing();

interface Job {
  job_id: string;
  status: string;
  error?: string;
  result?: unknown;
  progress?: { fraction: number; message?: string };
}

describe("start", () => {
  it("returns a job ID at once and await returns the typed result", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([squareTool(counter, hold.promise)]);
    const started = structured<{ job_id: string; status: string; created: boolean }>(
      await c.call("start_square", { n: 7 }),
    );
    expect(started.status).toBe("working");
    expect(started.created).toBe(true);
    expect(started.job_id).toMatch(/^square-[0-9a-f]{16}$/);
    hold.open();
    const awaited = structured<{ jobs: Job[]; done: boolean }>(
      await c.call("await_square", { job_ids: [started.job_id] }),
    );
    expect(awaited.done).toBe(true);
    expect(awaited.jobs[0]).toMatchObject({
      job_id: started.job_id,
      status: "completed",
      result: { square: 49, label: "x" },
    });
  });

  it("runs the work once for the same arguments in any key order, while running and after completion", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([squareTool(counter, hold.promise)]);
    const first = await Promise.all([
      c.call("start_square", { n: 3, label: "a" }),
      c.call("start_square", { label: "a", n: 3 }),
      c.call("start_square", { n: 3, label: "a" }),
    ]);
    const ids = new Set(first.map((r) => structured<{ job_id: string }>(r).job_id));
    expect(ids.size).toBe(1);
    expect(first.filter((r) => structured<{ created: boolean }>(r).created)).toHaveLength(1);
    hold.open();
    const [id] = [...ids];
    await c.call("await_square", { job_ids: [id] });
    const again = structured<{ job_id: string; created: boolean; status: string }>(
      await c.call("start_square", { label: "a", n: 3 }),
    );
    expect(again).toMatchObject({ job_id: id, created: false, status: "completed" });
    expect(counter.runs).toBe(1);
  });

  it("treats defaults as part of the canonical input", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter)]);
    const a = structured<{ job_id: string }>(await c.call("start_square", { n: 2 }));
    const b = structured<{ job_id: string }>(await c.call("start_square", { n: 2, label: "x" }));
    expect(a.job_id).toBe(b.job_id);
  });

  it("starts a new run on purpose with fresh: true", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter)]);
    const a = structured<{ job_id: string }>(await c.call("start_square", { n: 4 }));
    await c.call("await_square", { job_ids: [a.job_id] });
    const b = structured<{ job_id: string; created: boolean }>(
      await c.call("start_square", { n: 4, fresh: true }),
    );
    expect(b.created).toBe(true);
    expect(b.job_id).toBe(`${a.job_id}.r2`);
    await c.call("await_square", { job_ids: [b.job_id] });
    expect(counter.runs).toBe(2);
  });

  it("takes the job ID from jobId(input) when given, prefixed and made safe", async () => {
    const tool = defineAsyncTool({
      name: "report",
      description: "A monthly report",
      input: z.object({ month: z.string(), format: z.string().default("pdf") }),
      jobId: ({ month }) => `month:${month}`,
      run: async (_ctx, { month }) => month,
    });
    const c = await serve([tool]);
    const a = structured<{ job_id: string }>(await c.call("start_report", { month: "2024-01" }));
    const b = structured<{ job_id: string; created: boolean }>(
      await c.call("start_report", { month: "2024-01", format: "html" }),
    );
    expect(a.job_id).toBe("report-month_2024-01");
    expect(b).toMatchObject({ job_id: a.job_id, created: false });
  });

  it("answers bad arguments with a tool error naming each field, and keeps serving", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    const text = errorText(await c.call("start_square", { n: "seven", label: 5 }));
    expect(text).toMatch(/\bn\b/);
    expect(text).toMatch(/label/);
    const fine = structured<{ status: string }>(await c.call("start_square", { n: 1 }));
    expect(fine.status).toBe("working");
  });
});

describe("probe", () => {
  it("reports progress of a working job without blocking, and many jobs at once", async () => {
    const hold = gate();
    const c = await serve([squareTool({ runs: 0 }, hold.promise)]);
    const a = structured<{ job_id: string }>(await c.call("start_square", { n: 1 }));
    const b = structured<{ job_id: string }>(await c.call("start_square", { n: 2 }));
    await expect
      .poll(async () => {
        const probed = structured<{ jobs: Job[] }>(
          await c.call("probe_square", { job_ids: [a.job_id, b.job_id] }),
        );
        return probed.jobs.map((j) => [j.status, j.progress?.message]);
      })
      .toEqual([
        ["working", "computing"],
        ["working", "computing"],
      ]);
    hold.open();
  });

  it("accepts job IDs as a JSON string, a single ID, or objects", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 5 }));
    for (const form of [JSON.stringify([job_id]), job_id, [{ job_id }], { job_id }]) {
      const probed = structured<{ jobs: Job[] }>(await c.call("probe_square", { job_ids: form }));
      expect(probed.jobs.map((j) => j.job_id)).toEqual([job_id]);
    }
    const bad = errorText(await c.call("probe_square", { job_ids: 42 }));
    expect(bad).toContain("job_ids");
  });

  it("says an unknown job is unknown, by ID", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    const alone = await c.call("probe_square", { job_ids: ["square-nope"] });
    expect(structured<{ jobs: Job[] }>(alone).jobs).toMatchObject([
      { job_id: "square-nope", status: "not_found" },
    ]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 5 }));
    const mixed = structured<{ jobs: Job[] }>(
      await c.call("probe_square", { job_ids: [job_id, "square-nope"] }),
    );
    expect(mixed.jobs[1]).toMatchObject({ job_id: "square-nope", status: "not_found" });
  });
});

describe("await", () => {
  it("returns after the bounded wait with the jobs still working, not an error", async () => {
    const hold = gate();
    const c = await serve([squareTool({ runs: 0 }, hold.promise)]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 9 }));
    const began = Date.now();
    const result = await c.call("await_square", { job_ids: [job_id], timeout_seconds: 0.3 });
    expect(Date.now() - began).toBeLessThan(5000);
    expect(structured(result)).toMatchObject({ done: false, still_working: [job_id] });
    hold.open();
  });

  it("caps the wait at the tool's maximum", async () => {
    const hold = gate();
    const tool = defineAsyncTool({
      name: "capped",
      description: "Waits for a gate",
      input: z.object({}),
      await: { maxMs: 200 },
      run: async (ctx) => ctx.run("wait", () => hold.promise.then(() => 1)),
    });
    const c = await serve([tool]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_capped", {}));
    const began = Date.now();
    structured(await c.call("await_capped", { job_ids: [job_id], timeout_seconds: 600 }));
    expect(Date.now() - began).toBeLessThan(5000);
    hold.open();
  });

  it("sends progress hosts can draw: the jobs' real fraction out of a total, at once, on change and as keep-alive", async () => {
    const hold = gate();
    const c = await serve([squareTool({ runs: 0 }, hold.promise)], "memory", {
      awaitTiming: { tickMs: 20, keepAliveMs: 100 },
    });
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 9 }));
    await expect.poll(async () => (await c.runtime.probe([job_id]))[0]?.progress?.fraction).toBe(0.5);
    const seen: { progress: number; total?: number | undefined; message?: string | undefined; at: number }[] =
      [];
    const began = Date.now();
    // Open the gate once three notifications arrived: the first at once, then keep-alives while nothing changes.
    const result = await c.client.callTool(
      { name: "await_square", arguments: { job_ids: [job_id], timeout_seconds: 10 } },
      undefined,
      {
        onprogress: (p) => {
          seen.push({ ...p, at: Date.now() - began });
          if (seen.length === 3) hold.open();
        },
        resetTimeoutOnProgress: true,
      },
    );
    expect(result.isError).toBeFalsy();
    expect(seen[0]).toMatchObject({ progress: 0.5, total: 1 });
    expect(seen[0]?.at).toBeLessThan(AT_ONCE_MS);
    expect(seen[0]?.message).toContain("computing");
    expect(seen.slice(1, 3).every((p) => p.progress === 0.5 && p.total === 1)).toBe(true);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i]?.progress).toBeGreaterThanOrEqual(seen[i - 1]?.progress ?? 0);
  });
});

describe("cancel", () => {
  it("cancels a working job, and a later start runs it afresh", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([squareTool(counter, hold.promise)]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 6 }));
    await expect.poll(() => counter.runs).toBe(1);
    const cancelled = structured<{ jobs: Job[] }>(await c.call("cancel_square", { job_ids: [job_id] }));
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    const probed = structured<{ jobs: Job[] }>(await c.call("probe_square", { job_ids: [job_id] }));
    expect(probed.jobs[0]?.status).toBe("cancelled");
    const awaited = structured<{ jobs: Job[]; done: boolean }>(
      await c.call("await_square", { job_ids: [job_id] }),
    );
    expect(awaited.jobs[0]?.status).toBe("cancelled");
    hold.open();
    const again = structured<{ job_id: string; created: boolean }>(await c.call("start_square", { n: 6 }));
    expect(again.created).toBe(true);
    expect(again.job_id).not.toBe(job_id);
    await c.call("await_square", { job_ids: [again.job_id] });
    expect(counter.runs).toBe(2);
  });

  it("can be left out", async () => {
    const tool = defineAsyncTool({
      name: "nocancel",
      description: "x",
      input: z.object({}),
      toolNames: { cancel: false },
      run: async () => 1,
    });
    const c = await serve([tool]);
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "await_nocancel",
      "nocancel",
      "probe_nocancel",
      "start_nocancel",
    ]);
  });
});

describe("failures", () => {
  it("retries a failing step with backoff and completes when it recovers", async () => {
    let attempts = 0;
    const tool = defineAsyncTool({
      name: "flaky",
      description: "Fails twice",
      input: z.object({}),
      retry: { attempts: 4, initialDelayMs: 20 },
      run: async (ctx) =>
        ctx.run("call", () => {
          attempts += 1;
          if (attempts < 3) throw new Error("upstream 503");
          return "ok";
        }),
    });
    const c = await serve([tool]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_flaky", {}));
    const done = structured<{ jobs: Job[] }>(await c.call("await_flaky", { job_ids: [job_id] }));
    expect(done.jobs[0]).toMatchObject({ status: "completed", result: "ok" });
    expect(attempts).toBe(3);
  });

  it("marks the job failed with the error's message once retries give up, and keeps serving", async () => {
    let attempts = 0;
    const tool = defineAsyncTool({
      name: "broken",
      description: "Always fails",
      input: z.object({ k: z.number() }),
      retry: { attempts: 3, initialDelayMs: 10 },
      run: async (ctx) =>
        ctx.run("call", () => {
          attempts += 1;
          throw new Error("the upstream is down");
        }),
    });
    const c = await serve([tool]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_broken", { k: 1 }));
    const done = structured<{ jobs: Job[] }>(await c.call("await_broken", { job_ids: [job_id] }));
    expect(done.jobs[0]).toMatchObject({ status: "failed", error: "the upstream is down" });
    expect(JSON.stringify(done)).not.toContain("at ");
    expect(attempts).toBe(3);
    expect(structured(await c.call("start_broken", { k: 2 }))).toMatchObject({ status: "working" });
  });

  it("does not retry a PermanentError", async () => {
    let attempts = 0;
    const tool = defineAsyncTool({
      name: "refused",
      description: "Refused upstream",
      input: z.object({}),
      retry: { attempts: 5, initialDelayMs: 10 },
      run: async (ctx) =>
        ctx.run("call", () => {
          attempts += 1;
          throw new PermanentError("Open-Meteo refused the request (400): bad latitude");
        }),
    });
    const c = await serve([tool]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_refused", {}));
    const done = structured<{ jobs: Job[] }>(await c.call("await_refused", { job_ids: [job_id] }));
    expect(done.jobs[0]).toMatchObject({ status: "failed", error: expect.stringContaining("bad latitude") });
    expect(attempts).toBe(1);
  });

  it("fails a job that outlives its timeout", async () => {
    const hold = gate();
    const tool = defineAsyncTool({
      name: "slowpoke",
      description: "Too slow",
      input: z.object({}),
      timeoutMs: 300,
      run: async (ctx) => ctx.run("wait", () => hold.promise.then(() => 1)),
    });
    const c = await serve([tool]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_slowpoke", {}));
    // The timeout fires on the store's tick, so the job fails within about a second of its 300 ms.
    await expect
      .poll(
        async () =>
          structured<{ jobs: Job[] }>(await c.call("probe_slowpoke", { job_ids: [job_id] })).jobs[0],
      )
      .toMatchObject({ status: "failed", error: expect.stringContaining("timed out") });
    hold.open();
  });
});

describe("several tools on one server", () => {
  it("namespaces job IDs per tool and rejects another tool's IDs clearly", async () => {
    const one = defineAsyncTool({
      name: "one",
      description: "1",
      input: z.object({ v: z.number() }),
      run: async () => 1,
    });
    const two = defineAsyncTool({
      name: "two",
      description: "2",
      input: z.object({ v: z.number() }),
      run: async () => 2,
    });
    const c = await serve([one, two]);
    const a = structured<{ job_id: string }>(await c.call("start_one", { v: 1 }));
    const b = structured<{ job_id: string }>(await c.call("start_two", { v: 1 }));
    expect(a.job_id).not.toBe(b.job_id);
    const text = errorText(await c.call("probe_one", { job_ids: [b.job_id] }));
    expect(text).toContain("probe_two");
  });

  it("describes and annotates every tool so a model knows what to call next", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    const { tools } = await c.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.start_square?.annotations).toMatchObject({ idempotentHint: true });
    expect(byName.probe_square?.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.await_square?.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.start_square?.description).toContain("await_square");
    expect(byName.await_square?.outputSchema).toBeDefined();
    expect(JSON.stringify(byName.await_square?.outputSchema)).toContain("square");
  });
});

describe("the programmatic API", () => {
  it("starts, probes, waits for and cancels jobs without MCP, with typed results", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([squareTool(counter, hold.promise)]);
    const square = squareTool(counter, hold.promise);
    const started = await c.runtime.start(square, { n: 4 });
    expect(started).toMatchObject({ status: "working", created: true });
    const [probed] = await c.runtime.probe([started.jobId]);
    expect(probed?.status).toBe("working");
    hold.open();
    const done = await c.runtime.waitFor(square, started.jobId, 5000);
    expect(done.result?.square).toBe(16);
    const other = await c.runtime.start(square, { n: 5, label: "y" });
    await c.runtime.waitFor(square, other.jobId, 5000);
    expect((await c.runtime.cancel(other.jobId)).status).toBe("completed");
    expect(counter.runs).toBe(2);
  });
});

describe("shared job tools", () => {
  it("serves N definitions with N start tools and one probe, await and cancel", async () => {
    const double = defineAsyncTool({
      name: "double",
      description: "Doubles",
      input: z.object({ n: z.number() }),
      run: async (_ctx, { n }) => n * 2,
    });
    const c = await serve([squareTool({ runs: 0 }), double], "memory", { jobTools: "shared" });
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "await_jobs",
      "cancel_jobs",
      "double",
      "probe_jobs",
      "square",
      "start_double",
      "start_square",
    ]);
    expect(tools.find((t) => t.name === "start_square")?.description).toContain("await_jobs");
    const a = structured<{ job_id: string }>(await c.call("start_square", { n: 3 })).job_id;
    const b = structured<{ job_id: string }>(await c.call("start_double", { n: 4 })).job_id;
    const done = structured<{ jobs: { job_id: string; tool: string; result: unknown }[] }>(
      await c.call("await_jobs", { job_ids: [a, b], timeout_seconds: 10 }),
    );
    expect(done.jobs.map((j) => [j.tool, j.result])).toEqual([
      ["square", { square: 9, label: "x" }],
      ["double", 8],
    ]);
  });
});

describe("the await bound", () => {
  afterEach(() => {
    delete process.env.ASYNC_TOOLS_AWAIT_SECONDS;
  });

  it("takes its default from ASYNC_TOOLS_AWAIT_SECONDS, so a host's timeout can be met without code", async () => {
    process.env.ASYNC_TOOLS_AWAIT_SECONDS = "12";
    const c = await serve([squareTool({ runs: 0 })]);
    const { tools } = await c.client.listTools();
    expect(tools.find((t) => t.name === "await_square")?.description).toContain("(default 12, at most 50)");
  });

  it("refuses a malformed ASYNC_TOOLS_AWAIT_SECONDS with INVALID_CONFIG", async () => {
    process.env.ASYNC_TOOLS_AWAIT_SECONDS = "soon";
    await expect(serve([squareTool({ runs: 0 })])).rejects.toMatchObject({ code: "INVALID_CONFIG" });
  });
});

describe("a malformed tools/call", () => {
  it("answers a call without a tool name with a clean invalid-params error, with or without task tools", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    await expectNamelessRefused(c.client);
    const runtime = await createAsyncTools({ tools: [squareTool({ runs: 0 })], store: "memory" });
    const plain = new McpServer({ name: "plain", version: "0" });
    registerTools(plain, runtime);
    const client = new Client({ name: "t", version: "0" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await plain.connect(serverSide);
    await client.connect(clientSide);
    try {
      await expectNamelessRefused(client);
    } finally {
      await client.close();
      await runtime.close();
    }
  });
});

async function expectNamelessRefused(client: Client): Promise<void> {
  const error = await client
    .request({ method: "tools/call", params: { arguments: { n: 1 } } } as never, z.object({}).passthrough())
    .then(
      () => undefined,
      (error: unknown) => error as { code: number; message: string },
    );
  expect(error?.code).toBe(-32602);
  expect(error?.message).toContain('"name"');
  expect(error?.message).not.toMatch(/invalid_type|expected|\[\s*\{/);
}
