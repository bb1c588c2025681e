/**
 * Core's own test helpers: the published in-memory harness, small tools and gates the tests share, and
 * `async-tools store serve` as a child. What every package shares lives in `@async-tools/test-helpers`.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { childEnv, startListening } from "@async-tools/test-helpers/children";
import { LocalNetwork, type Network } from "@resonatehq/sdk";
import { afterEach } from "vitest";
import { z } from "zod";
import { type AnyAsyncTool, type AsyncToolOptions, defineAsyncTool, PermanentError } from "../src/index.ts";
import type { JobReads, Waiter } from "../src/runtime/waiters/waiter.ts";
import { connectInMemory, type InMemoryConnection, type InMemoryOptions } from "../src/testing/index.ts";

export type Connected = InMemoryConnection;

/** Builds a server with `defs` on `store` and connects a client to it in memory. */
export function connect(
  defs: AnyAsyncTool[],
  store: string | Network = "memory",
  options: Omit<InMemoryOptions, "store"> = {},
): Promise<Connected> {
  return connectInMemory(defs, { ...options, store });
}

/** A promise plus its resolver, for steering durable functions from tests. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A `connect` whose connections are closed after each test of the calling file. */
export function autoClosing(): (...args: Parameters<typeof connect>) => Promise<Connected> {
  const open: Connected[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });
  return async (...args) => {
    const connected = await connect(...args);
    open.push(connected);
    return connected;
  };
}

/** `broken`: one step that fails for good with "the upstream is down". */
export const brokenTool = defineAsyncTool({
  name: "broken",
  description: "Always fails",
  input: z.object({}),
  output: z.object({ ok: z.boolean() }),
  run: async (ctx) =>
    ctx.run("call", () => {
      throw new PermanentError("the upstream is down");
    }),
});

/** `square`: one step that counts its runs, reports progress "computing" and, given `hold`, waits for it. */
export function squareTool(
  counter: { runs: number },
  hold?: Promise<void>,
  options: Pick<AsyncToolOptions<z.ZodObject, unknown>, "taskSupport" | "await"> = {},
) {
  return defineAsyncTool({
    ...options,
    name: "square",
    description: "Squares a number slowly",
    input: z.object({ n: z.number().int(), label: z.string().default("x") }),
    output: z.object({ square: z.number(), label: z.string() }),
    run: async (ctx, { n, label }) => {
      const square = await ctx.run("compute", async () => {
        counter.runs += 1;
        ctx.progress(0.5, "computing");
        if (hold) await hold;
        return n * n;
      });
      return { square, label };
    },
  });
}

/** `asker`: once `hold` is done (a durable step), asks "confirm" ({ proceed: boolean }) and returns the action. */
export function askingTool(hold: Promise<void>) {
  return defineAsyncTool({
    name: "asker",
    description: "Asks before it finishes",
    input: z.object({ n: z.number() }),
    run: async (ctx, { n }) => {
      await ctx.run("held", () => hold);
      const answer = await ctx.ask("confirm", {
        message: `Go ahead with ${n}?`,
        schema: z.object({ proceed: z.boolean() }),
      });
      return answer.action;
    },
  });
}

/**
 * One wait of `waiter` for the job `jobId`, which `release` lets go on once the wait has read it: its first
 * read, and its last (called when the test is ready to count what it reads).
 */
export async function waitOnce(waiter: Waiter, reads: JobReads, jobId: string, release: () => void) {
  const waiting = waiter.begin([jobId], reads, false);
  const first = await waiting.read([jobId], false);
  const ended = waiting.until([jobId]);
  release();
  await ended;
  waiting.close();
  return { first, last: () => waiting.last(first) };
}

/** `three_steps`: three durable steps that each return at once (no retries, no task tool), `concurrency` jobs at once. */
export function threeStepsTool(concurrency?: number) {
  return defineAsyncTool({
    name: "three_steps",
    description: "Three durable steps that each return at once",
    input: z.object({ n: z.number().int() }),
    output: z.object({ total: z.number() }),
    retry: false,
    ...(concurrency === undefined ? {} : { concurrency }),
    toolNames: { task: false },
    run: async (ctx, { n }) => {
      let total = 0;
      for (const step of [1, 2, 3]) total += await ctx.run(`step${step}`, async () => n * step);
      return { total };
    },
  });
}

/** A LocalNetwork that counts the requests sent to it, by kind. */
export function countingNetwork(): { network: Network; counts: Map<string, number>; inner: LocalNetwork } {
  const inner = new LocalNetwork();
  const counts = new Map<string, number>();
  const network: Network = {
    get unicast() {
      return inner.unicast;
    },
    get anycast() {
      return inner.anycast;
    },
    match: (target) => inner.match(target),
    init: () => inner.init(),
    stop: () => inner.stop(),
    send: ((request: { kind: string }) => {
      counts.set(request.kind, (counts.get(request.kind) ?? 0) + 1);
      return inner.send(request as never);
    }) as Network["send"],
    recv: (callback) => inner.recv(callback),
  };
  return { network, counts, inner };
}

const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");

/** Runs `async-tools store init` on the Postgres database at `url`. */
export function postgresStoreInit(url: string): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(
    process.execPath,
    ["--conditions=@async-tools/source", CLI, "store", "init", "--store", url],
    { env: childEnv() },
  );
}

/** Starts `async-tools store serve` on `path`; resolves with its URL once it listens, and kills it on cleanup. */
export async function startStoreServe(
  path: string,
  token: string,
  cleanup: (() => Promise<void> | void)[],
): Promise<{ url: string }> {
  const served = await startListening(CLI, ["store", "serve", "--store", path, "--token", token], {
    listening: / on (http:\/\/127\.0\.0\.1:\d+)/,
  });
  cleanup.push(() => served.kill());
  return { url: served.url };
}
