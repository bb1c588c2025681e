/**
 * The runtime's explicit lifecycle: definitions known up front, recovery without a client, duplicate names
 * refused, and a stdio server that lets go of its store when its client goes away.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AT_ONCE_MS } from "@async-tools/test-helpers/budgets";
import { childEnv } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { AsyncToolsError, createAsyncTools, defineAsyncTool } from "../src/index.ts";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-lifecycle-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, "jobs.db")}`;
}

const echo = (version = 1) =>
  defineAsyncTool({
    name: "echo",
    description: "Echoes n",
    input: z.object({ n: z.number() }),
    version,
    run: async (_ctx, { n }) => n,
  });

describe("createAsyncTools", () => {
  it("refuses two definitions with the same name and version (DUPLICATE_TOOL)", async () => {
    const attempt = createAsyncTools({ store: "memory", tools: [echo(), echo()] });
    await expect(attempt).rejects.toBeInstanceOf(AsyncToolsError);
    await expect(attempt).rejects.toMatchObject({ code: "DUPLICATE_TOOL" });
  });

  it("takes several versions of one tool and runs new jobs on the highest", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [echo(1), echo(2)] });
    expect(runtime.tools.map((t) => [t.name, t.version])).toEqual([["echo", 2]]);
    const job = await runtime.start(echo(2), { n: 3 });
    expect((await runtime.wait([job.jobId], { timeoutMs: 5000 }))[0]?.result).toBe(3);
  });

  it("refuses to start a job of a tool it does not run (UNKNOWN_TOOL)", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [] });
    await expect(runtime.start(echo(), { n: 1 })).rejects.toMatchObject({ code: "UNKNOWN_TOOL" });
  });

  it("names what is missing when called without tools", async () => {
    await expect(createAsyncTools(undefined as never)).rejects.toThrow(/createAsyncTools\(\{ tools/);
  });
});

describe("a stdio server whose client goes away", () => {
  it("closes its store and exits when stdin closes, so the next server gets the store at once", async () => {
    const store = tempStore();
    const env = childEnv({ ASYNC_TOOLS_STORE: store, ASYNC_TOOLS_LOG: "info" });
    const first = spawn(process.execPath, ["--conditions=@async-tools/source", SERVER], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    cleanup.push(() => {
      if (first.exitCode === null) first.kill("SIGKILL");
    });
    let stderr = "";
    first.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    await expect.poll(() => stderr.includes("store opened")).toBe(true);
    // What a SIGKILLed client leaves behind: the pipe to the server's stdin closes.
    const exited = new Promise<number | null>((resolve) => first.once("exit", (code) => resolve(code)));
    const closedAt = Date.now();
    first.stdin.end();
    expect(await exited).toBe(0);
    expect(Date.now() - closedAt).toBeLessThan(AT_ONCE_MS);

    const began = Date.now();
    await using next = await createAsyncTools({ store, tools: [] });
    expect(next.store.kind).toBe("sqlite");
    expect(Date.now() - began).toBeLessThan(AT_ONCE_MS);
  });
});
