/**
 * A cancel stops the work wherever the job runs: in the process that was asked, and across processes (two
 * stdio servers on one store file, the first owns it, the second joins; a job running in one of them,
 * cancelled through the other or with `async-tools jobs cancel`). A local upstream counts the requests the
 * job's step makes and sees when their sockets close.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, type StdioChild, startStdioChild } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";
import { createAsyncTools } from "../src/index.ts";
import { upstreamTool } from "./fixtures/upstream-tool.ts";
import { startStoreServe } from "./helpers.ts";

const SERVER = join(import.meta.dirname, "fixtures", "upstream-server.ts");
const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");
/** Issue 22's bound: the running process learns of the cancel and closes the request within this. */
const STOPPED_WITHIN_MS = 1500;
/** How long the upstream holds a request before it answers 503 (which the step would retry). */
const HOLD_MS = 6000;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** An upstream on 127.0.0.1 that holds every request for {@link HOLD_MS}, then answers 503. */
interface Upstream {
  url: string;
  total(): number;
  open(): number;
  /** Resolves when the first request arrives. */
  first: Promise<void>;
  /** Resolves when the first request ends: at (`performance.now()`), and whether it was answered or cut. */
  firstEnded: Promise<{ at: number; answered: boolean }>;
}

async function startUpstream(): Promise<Upstream> {
  let total = 0;
  let open = 0;
  let arrived: () => void = () => undefined;
  let ended: (end: { at: number; answered: boolean }) => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const firstEnded = new Promise<{ at: number; answered: boolean }>((resolve) => {
    ended = resolve;
  });
  const server: Server = createServer((req, res) => {
    total += 1;
    open += 1;
    const n = total;
    if (n === 1) arrived();
    const timer = setTimeout(() => res.writeHead(503).end("busy"), HOLD_MS);
    res.on("close", () => {
      clearTimeout(timer);
      open -= 1;
      if (n === 1) ended({ at: performance.now(), answered: res.writableFinished });
    });
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, total: () => total, open: () => open, first, firstEnded };
}

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-cancel-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "jobs.db");
}

/** Expects the first request to have been cut (not answered) within the bound after `answeredAt`. */
async function expectCutSoon(upstream: Upstream, answeredAt: number): Promise<void> {
  const end = await upstream.firstEnded;
  expect(end.at - answeredAt, "ms from the cancel's answer to the request's end").toBeLessThan(
    STOPPED_WITHIN_MS,
  );
  expect(end.answered, "the request was cut, not answered").toBe(false);
}

async function startServer(env: Record<string, string>): Promise<StdioChild> {
  const child = await startStdioChild(SERVER, { env: { ...env, ASYNC_TOOLS_LOG: "debug" } });
  cleanup.push(async () => {
    await child.close();
  });
  return child;
}

async function rig(): Promise<{ store: string; upstream: Upstream; owner: StdioChild; joiner: StdioChild }> {
  const upstream = await startUpstream();
  const store = tempStore();
  const start = () => startServer({ ASYNC_TOOLS_STORE: `sqlite:${store}`, UPSTREAM_URL: upstream.url });
  const owner = await start();
  await expect.poll(() => owner.stderr(), { timeout: 15_000 }).toMatch(/store owned/);
  const joiner = await start();
  await expect.poll(() => joiner.stderr(), { timeout: 15_000 }).toMatch(/store joined/);
  return { store, upstream, owner, joiner };
}

/**
 * Waits until the execution of `id` in `runner` has ended after the cancel: the store refused its write and it
 * stood down (or its task went back to the store).
 */
async function executionEnded(runner: StdioChild, id: string): Promise<void> {
  const ended = new RegExp(
    `(job execution stood down|job already released or taken).*${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
  );
  await expect.poll(() => runner.stderr(), { timeout: 30_000 }).toMatch(ended);
}

function expectNoFailure(runner: StdioChild): void {
  expect(runner.stderr()).not.toMatch(/WARN.*job failed/);
  expect(runner.stderr()).not.toMatch(/WARN.*job execution failed/);
}

describe("a cancel made in the process running the job", () => {
  it("closes the running step's request at once and retries nothing", async () => {
    const upstream = await startUpstream();
    const tool = upstreamTool(upstream.url);
    const runtime = await createAsyncTools({ store: tempStore(), tools: [tool] });
    cleanup.push(() => runtime.close());
    const { jobId } = await runtime.start(tool, { n: 0 });
    await upstream.first;

    expect((await runtime.cancel(jobId)).status).toBe("cancelled");
    await expectCutSoon(upstream, performance.now());
    // The step's attempt ends with the abort; a retry would be a second attempt.
    await expect
      .poll(async () => (await runtime.get(jobId)).steps.map((step) => step.status), { timeout: 15_000 })
      .not.toEqual(["running"]);
    const [step] = (await runtime.get(jobId)).steps;
    expect(step?.attempts).toHaveLength(1);
    expect(step?.attempts[0]?.retryAt, "no retry was scheduled").toBeUndefined();
    expect(upstream.total()).toBe(1);
  });
});

describe("a cancel made in another process", () => {
  it("closes the running step's request within 1.5 s and retries nothing: job in the owner, cancel through the joiner", async () => {
    const { upstream, owner, joiner } = await rig();
    const { job_id: id } = await owner.data<{ job_id: string }>("start_fetch", { n: 1 });
    await upstream.first;

    const cancelled = await joiner.data<{ jobs: { status: string }[] }>("cancel_fetch", { job_ids: [id] });
    const answeredAt = performance.now();
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    await expectCutSoon(upstream, answeredAt);

    await executionEnded(owner, id);
    expect(upstream.total()).toBe(1);
    expect(upstream.open()).toBe(0);
    expectNoFailure(owner);
  }, 60_000);

  it("closes the running step's request within 1.5 s: job in the joiner, cancelled with `async-tools jobs cancel`", async () => {
    const { store, upstream, joiner } = await rig();
    const { job_id: id } = await joiner.data<{ job_id: string }>("start_fetch", { n: 2 });
    await upstream.first;

    const cli = spawn(
      process.execPath,
      ["--conditions=@async-tools/source", CLI, "jobs", "cancel", id, "--store", store],
      { env: childEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    cleanup.push(() => {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL");
    });
    let out = "";
    cli.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => cli.once("exit", resolve));
    const answeredAt = performance.now();
    expect({ code, out }).toEqual({ code: 0, out: `Cancelled ${id}.\n` });
    await expectCutSoon(upstream, answeredAt);

    await executionEnded(joiner, id);
    expect(upstream.total()).toBe(1);
    expect(upstream.open()).toBe(0);
    expectNoFailure(joiner);
  }, 60_000);

  it("closes the running step's request within 1.5 s on replicas of `async-tools store serve`", async () => {
    const upstream = await startUpstream();
    const { url } = await startStoreServe(tempStore(), "cancel-token", cleanup);
    const env = {
      ASYNC_TOOLS_STORE: url,
      ASYNC_TOOLS_STORE_TOKEN: "cancel-token",
      UPSTREAM_URL: upstream.url,
    };
    const running = await startServer(env);
    const other = await startServer(env);
    const { job_id: id } = await running.data<{ job_id: string }>("start_fetch", { n: 3 });
    await upstream.first;

    const cancelled = await other.data<{ jobs: { status: string }[] }>("cancel_fetch", { job_ids: [id] });
    const answeredAt = performance.now();
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    await expectCutSoon(upstream, answeredAt);

    await executionEnded(running, id);
    expect(upstream.total()).toBe(1);
    expectNoFailure(running);
  }, 60_000);
});
