/**
 * The step timeline across a real crash: a server is SIGKILLed in the middle of step two; the next runtime
 * on the store replays step one from its stored result (no new attempt), marks the cut-short attempt of step
 * two interrupted, and records the attempt that finishes it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The fixture's `steps` tool, with step two instant: what the restarted server runs. */
const steps = defineAsyncTool({
  name: "steps",
  description: "Three durable steps",
  input: z.object({ n: z.number() }),
  output: z.object({ total: z.number() }),
  run: async (ctx, { n }) => {
    const a = await ctx.run("one", () => n + 1);
    const b = await ctx.run("two", () => a * 2);
    const c = await ctx.run("three", () => b + 1);
    return { total: c };
  },
});

it("keeps finished steps' attempts across a SIGKILL and marks the cut-short attempt interrupted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-steplog-crash-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, "jobs.db");
  const effects = join(dir, "effects.log");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "RESONATE_URL") env[k] = v;
  const server = spawn(process.execPath, ["--conditions=@async-tools/source", SERVER], {
    env: { ...env, ASYNC_TOOLS_STORE: store, SIDE_EFFECTS: effects, STEP2_MS: "60000" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  cleanup.push(() => {
    if (server.exitCode === null) server.kill("SIGKILL");
  });
  server.stderr.on("data", () => undefined);
  let stdout = "";
  server.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise((resolve) => server.once("exit", resolve));
  const request = (id: number, method: string, params: unknown) =>
    server.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
  request(1, "initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "t", version: "0" },
  });
  server.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  request(2, "tools/call", { name: "start_steps", arguments: { n: 1 } });
  const marked = () => {
    try {
      return readFileSync(effects, "utf8");
    } catch {
      return "";
    }
  };
  await expect.poll(() => / 2\n/.test(marked())).toBe(true);
  const jobId = (/^(\S+) 2$/m.exec(marked()) as RegExpExecArray)[1] as string;
  // The attempt's start is written in a commit right after the step began (queued, not awaited): a request
  // answered after that proves it is on disk, where a kill at once could beat it on a busy machine.
  request(3, "ping", {});
  await expect.poll(() => stdout.includes('"id":3')).toBe(true);
  server.kill("SIGKILL");
  await exited;

  await using runtime = await createAsyncTools({ store, tools: [steps] });
  const [done] = await runtime.wait([jobId], { timeoutMs: 10_000 });
  expect(done?.result).toEqual({ total: 5 });
  const detail = await runtime.get(jobId);
  expect(detail.steps.map((s) => [s.name, s.attempts.map((a) => a.outcome)])).toEqual([
    ["one", ["succeeded"]],
    ["two", ["interrupted", "succeeded"]],
    ["three", ["succeeded"]],
  ]);
  expect(detail.steps[1]?.attempts.map((a) => a.attempt)).toEqual([1, 2]);
});
