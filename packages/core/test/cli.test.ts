/**
 * The `async-tools` CLI on a real store file: commands run in process (their output captured), and the real
 * executable as a child process where the process matters (exit codes, a store a running server holds).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStdioChild } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { runOperatorCli } from "../src/cli/index.ts";
import { run as main } from "../src/cli/run.ts";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import type { JobSnapshot } from "../src/runtime/job.ts";
import type { JobDetail } from "../src/runtime/job-detail.ts";
import { forecastTool } from "./fixtures/forecast-tool.ts";

const BIN = join(import.meta.dirname, "..", "src", "cli", "main.ts");
const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-cli-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "jobs.db");
}

/** Runs the CLI in process. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
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

async function cliJson<T>(...argv: string[]): Promise<T> {
  const { code, out, err } = await cli(...argv, "--json");
  expect(err).toBe("");
  expect(code).toBe(0);
  return JSON.parse(out) as T;
}

/**
 * A store a server used and stopped: Oslo completed after two retries, Paris completed, Nowhere failed,
 * Slow still working (its server stopped mid-step).
 */
async function ranStore(): Promise<{ path: string; ids: Record<string, string> }> {
  const path = tempStore();
  const tool = forecastTool({ flaky: { Oslo: 2 } });
  const runtime = await createAsyncTools({ store: path, tools: [tool] });
  const ids: Record<string, string> = {};
  for (const city of ["Oslo", "Paris", "Nowhere", "Slow"])
    ids[city] = (await runtime.start(tool, { city })).jobId;
  await runtime.wait([ids.Oslo, ids.Paris, ids.Nowhere] as string[], { timeoutMs: 10_000 });
  await expect.poll(async () => (await runtime.get(ids.Slow as string)).steps.length).toBe(2);
  await runtime.close();
  return { path, ids };
}

describe("async-tools jobs", () => {
  it("lists every job with its status (--json), and filters by status, tool and time", async () => {
    const { path, ids } = await ranStore();
    const { jobs } = await cliJson<{ jobs: JobSnapshot[] }>("jobs", "list", "--store", path);
    expect(Object.fromEntries(jobs.map((j) => [j.jobId, j.status]))).toEqual({
      [ids.Oslo as string]: "completed",
      [ids.Paris as string]: "completed",
      [ids.Nowhere as string]: "failed",
      [ids.Slow as string]: "working",
    });
    expect(jobs.every((j) => j.tool === "forecast" && j.createdAt !== undefined)).toBe(true);
    const failed = await cliJson<{ jobs: JobSnapshot[] }>(
      "jobs",
      "list",
      "--status",
      "failed",
      "--store",
      path,
    );
    expect(failed.jobs.map((j) => j.jobId)).toEqual([ids.Nowhere]);
    expect(failed.jobs[0]?.error).toEqual({ code: "failed", message: "unknown city Nowhere" });
    const other = await cliJson<{ jobs: JobSnapshot[] }>("jobs", "list", "--tool", "other", "--store", path);
    expect(other.jobs).toEqual([]);
    const recent = await cliJson<{ jobs: JobSnapshot[] }>("jobs", "list", "--since", "1h", "--store", path);
    expect(recent.jobs).toHaveLength(4);
    const future = await cliJson<{ jobs: JobSnapshot[] }>(
      "jobs",
      "list",
      "--since",
      "2999-01-01",
      "--store",
      path,
    );
    expect(future.jobs).toEqual([]);
  });

  it("prints a table with relative times for people", async () => {
    const { path, ids } = await ranStore();
    const { code, out } = await cli("jobs", "list", "--store", path);
    expect(code).toBe(0);
    const [header, ...rows] = out.trim().split("\n");
    expect(header).toMatch(/^ID +TOOL +STATUS +PROGRESS +STARTED +DURATION +NOTE$/);
    expect(rows).toHaveLength(4);
    const slow = rows.find((r) => r.startsWith(ids.Slow as string));
    expect(slow).toMatch(/forecast +working +#####----- 50% +(just now|\d+s ago) +\S+ +fetched/);
    expect(rows.find((r) => r.startsWith(ids.Nowhere as string))).toContain("unknown city Nowhere");
  });

  it("shows a retried job's steps with every attempt and its error", async () => {
    const { path, ids } = await ranStore();
    const detail = await cliJson<JobDetail>("jobs", "show", ids.Oslo as string, "--store", path);
    expect(detail).toMatchObject({
      status: "completed",
      input: { city: "Oslo" },
      result: { city: "Oslo", high: 12 },
    });
    expect(detail.steps.map((s) => [s.name, s.attempts.map((a) => a.outcome)])).toEqual([
      ["fetch", ["failed", "failed", "succeeded"]],
      ["summary", ["succeeded"]],
    ]);
    expect(detail.steps[0]?.attempts[0]).toMatchObject({ attempt: 1, error: "503 Service Unavailable" });

    const { out } = await cli("jobs", "show", ids.Oslo as string, "--store", path);
    expect(out).toMatch(/^Job +forecast-/);
    expect(out).toMatch(/Input +\{"city":"Oslo"\}/);
    expect(out).toMatch(/fetch +#1 +failed +.*503 Service Unavailable \(retried after \d+ms\)/);
    expect(out).toMatch(/\n +#2 +failed /);
    expect(out).toMatch(/\n +#3 +succeeded /);
    expect(await cli("jobs", "show", "forecast-nope", "--store", path)).toMatchObject({
      code: 1,
      out: "No job has the ID forecast-nope.\n",
    });
  });

  it("cancels an unfinished job, which a server started afterwards does not run", async () => {
    const { path, ids } = await ranStore();
    const { code, out } = await cli("jobs", "cancel", ids.Slow as string, "--store", path);
    expect(code).toBe(0);
    expect(out).toBe(`Cancelled ${ids.Slow}.\n`);
    const again = await cli("jobs", "cancel", ids.Paris as string, "--store", path);
    expect(again.out).toContain("already completed");
    await using server = await createAsyncTools({ store: path, tools: [forecastTool()] });
    const [job] = await server.probe([ids.Slow as string]);
    expect(job).toMatchObject({
      status: "cancelled",
      error: { code: "cancelled", reason: "cancelled from the async-tools CLI" },
    });
  });

  it("retries a failed job as a fresh run with its input, which the next server runs", async () => {
    const { path, ids } = await ranStore();
    const started = await cliJson<JobSnapshot & { created: boolean }>(
      "jobs",
      "retry",
      ids.Nowhere as string,
      "--store",
      path,
    );
    expect(started).toMatchObject({ jobId: `${ids.Nowhere}.r2`, created: true, tool: "forecast" });
    const refused = await cli("jobs", "retry", ids.Paris as string, "--store", path);
    expect(refused).toMatchObject({ code: 1 });
    expect(refused.err).toContain("only failed or cancelled jobs can be retried");

    await using server = await createAsyncTools({ store: path, tools: [forecastTool()] });
    const [rerun] = await server.wait([started.jobId], { timeoutMs: 10_000 });
    // "Nowhere" fails for good again; what matters is that it ran, with the stored input.
    expect(rerun).toMatchObject({
      status: "failed",
      error: { code: "failed", message: "unknown city Nowhere" },
    });
    expect((await server.get(started.jobId)).input).toEqual({ city: "Nowhere" });
  });

  it("retries a cancelled job on a running runtime that has its tool", async () => {
    const path = tempStore();
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tool = forecastTool({ hold });
    await using runtime = await createAsyncTools({ store: path, tools: [tool] });
    const job = await runtime.start(tool, { city: "Slowtown" });
    await runtime.cancel(job.jobId);
    release();
    const rerun = await runtime.retry(job.jobId);
    expect(rerun).toMatchObject({ jobId: `${job.jobId}.r2`, created: true });
    const [done] = await runtime.wait([rerun.jobId], { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: "completed", result: { city: "Slowtown", high: 24 } });
  });

  it("prunes finished jobs older than --older-than, leaving unfinished ones", async () => {
    const { path, ids } = await ranStore();
    const kept = await cliJson<{ removed: string[] }>("jobs", "prune", "--older-than", "1h", "--store", path);
    expect(kept.removed).toEqual([]);
    const pruned = await cliJson<{ removed: string[] }>(
      "jobs",
      "prune",
      "--older-than",
      "0s",
      "--store",
      path,
    );
    expect(pruned.removed.sort()).toEqual([ids.Oslo, ids.Paris, ids.Nowhere].sort());
    const { jobs } = await cliJson<{ jobs: JobSnapshot[] }>("jobs", "list", "--store", path);
    expect(jobs.find((j) => j.jobId === ids.Slow)?.status).toBe("working");
    expect(jobs.filter((j) => j.status === "expired")).toHaveLength(3);
  });
});

describe("async-tools store info", () => {
  it("prints the store's path, size and jobs by status", async () => {
    const { path } = await ranStore();
    const info = await cliJson<Record<string, unknown>>("store", "info", "--store", path);
    expect(info).toMatchObject({
      store: `sqlite:${path}`,
      kind: "sqlite",
      path,
      jobs: { total: 4, byStatus: { completed: 2, failed: 1, working: 1 } },
    });
    expect(info.sizeBytes).toBeGreaterThan(0);
    const { out } = await cli("store", "info", "--store", path);
    expect(out).toMatch(
      /^Store +sqlite:.*\nSize +[\d.]+ KiB\nJobs +4 \(2 completed, 1 failed, 1 working\)\n$/,
    );
  });
});

describe("async-tools dashboard", () => {
  it("serves the store's jobs on 127.0.0.1 until stopped", async () => {
    const { path, ids } = await ranStore();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let err = "";
    const running = main(["dashboard", "--port", "0", "--store", path], {
      out: () => undefined,
      err: (text) => {
        err += text;
      },
      env: {},
      now: () => Date.now(),
      stopped,
    });
    await expect.poll(() => /http:\/\/127\.0\.0\.1:\d+\//.test(err)).toBe(true);
    const url = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1] as string;
    const html = await (await fetch(`${url}/`)).text();
    for (const id of Object.values(ids)) expect(html).toContain(`data-job="${id}"`);
    stop();
    expect(await running).toBe(0);
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });
});

describe("the async-tools executable", () => {
  function run(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ["--conditions=@async-tools/source", BIN, ...args], {
      env: { ...baseEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return collect(child);
  }

  it("answers jobs --help with the jobs usage on stdout and exit 0", async () => {
    const { code, out, err } = await cli("jobs", "--help");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toContain("Usage: async-tools jobs <command>");
  });

  it("runs for a server's own bin: its name in the usage, its default store when none is named", async () => {
    const { path, ids } = await ranStore();
    let out = "";
    const context = {
      out: (text: string) => {
        out += `${text}\n`;
      },
      err: (text: string) => {
        out += `${text}\n`;
      },
      env: {},
      now: () => Date.now(),
    };
    expect(
      await runOperatorCli(["jobs", "list", "--json"], { program: "my-server", defaultStore: path, context }),
    ).toBe(0);
    expect((JSON.parse(out) as { jobs: JobSnapshot[] }).jobs.map((j) => j.jobId)).toContain(ids.Slow);
    out = "";
    expect(await runOperatorCli(["jobs"], { program: "my-server", context })).toBe(0);
    expect(out).toContain("Usage: my-server jobs <command>");
    expect(out).not.toContain("async-tools jobs");
  });

  it("runs store serve through the same dispatcher and context: its address on err, stopped by the context", async () => {
    const path = tempStore();
    let err = "";
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const served = main(["store", "serve", "--store", `sqlite:${path}`], {
      out: () => undefined,
      err: (text) => {
        err += `${text}\n`;
      },
      env: {},
      now: () => Date.now(),
      stopped,
    });
    await expect
      .poll(() => / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1], { timeout: 20_000 })
      .toBeDefined();
    const url = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1] as string;
    expect(err).toContain(`serving sqlite:${path}`);
    expect((await fetch(url)).status).toBeGreaterThanOrEqual(400);
    stop();
    expect(await served).toBe(0);
    // The store parser every command uses: a store that is no file is refused with a usage error.
    const refused = await cli("store", "serve", "--store", "memory");
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("store serve serves a store file; memory is a memory store.");
  });

  it("answers usage errors with exit code 2 and a missing store with 1", async () => {
    expect(await cli("jobs", "list", "--bogus")).toMatchObject({ code: 2 });
    expect(await cli("nope")).toMatchObject({ code: 2 });
    const missing = await cli("jobs", "list", "--store", "/nonexistent/dir/jobs.db");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("No store at /nonexistent/dir/jobs.db");
  });

  it("prints --json to stdout alone, with the store from ASYNC_TOOLS_STORE", async () => {
    const { path, ids } = await ranStore();
    const { code, stdout } = await run(["jobs", "list", "--json"], { ASYNC_TOOLS_STORE: path });
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { jobs: JobSnapshot[] }).jobs.map((j) => j.jobId)).toContain(ids.Slow);
  });

  it("joins a store a running server owns: list, show, cancel and retry go through the server", async () => {
    const path = tempStore();
    // Step two takes ten minutes, so a job stays working until it is cancelled.
    const server = await startStdioChild(SERVER, { env: { ASYNC_TOOLS_STORE: path, STEP2_MS: "600000" } });
    cleanup.push(async () => {
      await server.close();
    });
    const { job_id: id } = await server.data<{ job_id: string }>("start_steps", { n: 1 });
    // The real executable, while the server holds the file: it joins instead of giving up.
    await expect
      .poll(async () => {
        const { code, stdout } = await run(["jobs", "list", "--json", "--store", path]);
        return code === 0 ? (JSON.parse(stdout) as { jobs: JobSnapshot[] }).jobs.map((j) => j.status) : code;
      })
      .toEqual(["working"]);
    // The step log lives with the owner: step one's attempt (recorded by the server) shows through the join.
    await expect
      .poll(async () =>
        (await cliJson<JobDetail>("jobs", "show", id, "--store", path)).steps.map((s) => s.name),
      )
      .toEqual(["one", "two"]);

    const cancelled = await cli("jobs", "cancel", id, "--store", path);
    expect(cancelled).toMatchObject({ code: 0, out: `Cancelled ${id}.\n` });
    expect(
      (await server.data<{ jobs: { status: string }[] }>("probe_steps", { job_ids: [id] })).jobs[0]?.status,
    ).toBe("cancelled");

    const retried = await cliJson<JobSnapshot & { created: boolean }>("jobs", "retry", id, "--store", path);
    expect(retried.created).toBe(true);
    expect(retried.jobId).not.toBe(id);
    // The server runs the fresh run: its first step is recorded, and it is working on the second.
    await expect
      .poll(async () => {
        const detail = await cliJson<JobDetail>("jobs", "show", retried.jobId, "--store", path);
        return [detail.status, detail.steps.map((s) => `${s.name}:${s.status}`)];
      })
      .toEqual(["working", ["one:succeeded", "two:running"]]);
    expect(server.stderr()).toContain("store owned");
  });
});

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

describe("async-tools jobs answer", () => {
  it("answers the question --question names, and a bare answer only when one question is open", async () => {
    const store = tempStore();
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
    const store = tempStore();
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

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "RESONATE_URL") env[k] = v;
  delete env.ASYNC_TOOLS_STORE;
  return env;
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}
