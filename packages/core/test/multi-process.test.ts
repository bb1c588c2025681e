/**
 * Two stdio servers (real child processes, each with its own MCP client) on one store file: the first owns
 * it, the second joins. Both answer for every job; a SIGKILL of the owner hands the store to the joiner
 * within a second, and the dead owner's jobs finish there without repeating a finished step.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { budget } from "@async-tools/test-helpers/budgets";
import {
  childEnv,
  type StdioChild,
  sideEffectCounts,
  startStdioChild,
} from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function start(env: Record<string, string>): Promise<StdioChild> {
  const child = await startStdioChild(SERVER, { env: env });
  cleanup.push(async () => {
    await child.close();
  });
  return child;
}

type Jobs = { jobs: { job_id: string; status: string; result?: { total: number } }[]; done: boolean };

describe("two stdio servers on one store file", () => {
  it("share jobs both ways, and the joiner takes over within a second when the owner is SIGKILLed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-multi-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const effects = join(dir, "effects.log");
    const env = { ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`, SIDE_EFFECTS: effects };
    const owner = await start({ ...env, STEP2_MS: "60000" });
    const joiner = await start({ ...env, STEP2_MS: "0" });
    await expect.poll(() => joiner.stderr()).toMatch(/store joined/);

    // The same arguments from both: one job, one execution, awaited from the other side.
    const fromJoiner = await joiner.data<{ job_id: string }>("start_steps", { n: 100 });
    const fromOwner = await owner.data<{ job_id: string }>("start_steps", { n: 100 });
    expect(fromOwner.job_id).toBe(fromJoiner.job_id);
    const done = await owner.data<Jobs>("await_steps", { job_ids: [fromJoiner.job_id], timeout_seconds: 20 });
    expect(done.jobs[0]?.result?.total).toBe(203);
    expect(sideEffectCounts(effects).get(`${fromJoiner.job_id} 1`)).toBe(1);

    // Three jobs in flight on the owner (step 2 takes a minute there), probed from the joiner.
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await owner.data<{ job_id: string }>("start_steps", { n })).job_id);
    await expect.poll(() => ids.every((id) => sideEffectCounts(effects).get(`${id} 2`) === 1)).toBe(true);
    const probed = await joiner.data<Jobs>("probe_steps", { job_ids: ids });
    expect(probed.jobs.map((job) => job.status)).toEqual(["working", "working", "working"]);

    await owner.kill();
    let result: Jobs | undefined;
    await expect
      .poll(async () => {
        result = await joiner.data<Jobs>("await_steps", { job_ids: ids, timeout_seconds: 5 });
        return result.done;
      })
      .toBe(true);
    expect(result?.jobs.map((job) => [job.status, job.result?.total])).toEqual([
      ["completed", 5],
      ["completed", 7],
      ["completed", 9],
    ]);
    const seen = sideEffectCounts(effects);
    for (const id of ids) {
      expect(seen.get(`${id} 1`), `step 1 of ${id}`).toBe(1);
      expect(seen.get(`${id} 2`), `step 2 of ${id}`).toBe(2);
      expect(seen.get(`${id} 3`), `step 3 of ${id}`).toBe(1);
    }
    const took = /store taken over from a dead owner.* ms=(\d+)/.exec(joiner.stderr());
    expect(took, joiner.stderr()).not.toBeNull();
    expect(Number(took?.[1])).toBeLessThan(1000);
  });

  it("lets a short-lived second start of the same command come and go, as a client's discovery probe does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-probe-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`, STEP2_MS: "0" };
    // Both start at once; the first to take the file owns it, and the probe (either one) exits at once.
    const [probe, main] = await Promise.all([start(env), start(env)]);
    await probe.close();
    const job = await main.data<{ job_id: string }>("start_steps", { n: 1 });
    const done = await main.data<Jobs>("await_steps", { job_ids: [job.job_id], timeout_seconds: 20 });
    expect(done.jobs[0]?.result?.total).toBe(5);
    // And the other way round: a late probe joins, then leaves, and the main process stays well.
    const late = await start(env);
    await late.close();
    const again = await main.data<{ job_id: string }>("start_steps", { n: 2 });
    const finished = await main.data<Jobs>("await_steps", { job_ids: [again.job_id], timeout_seconds: 20 });
    expect(finished.jobs[0]?.result?.total).toBe(7);
  });

  it(
    "brings up every process started at the same moment on a new store: one owns it, the others join",
    async () => {
      // Each round: a fresh store file and three processes at once. The loser of the file's creation used to exit
      // with STORE_IO (EEXIST); the race is rare, so it takes several rounds (a standalone loop of 30 pairs: 4 lost).
      // Four rounds, not more: each boots three processes, CPU-bound (about 1 s of CPU each; 30 s a round at a
      // load of 20 on 2 cores).
      for (let round = 0; round < 4; round++) {
        const dir = mkdtempSync(join(tmpdir(), "async-tools-race-"));
        cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
        const env = childEnv({
          ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`,
          ASYNC_TOOLS_LOG: "info",
        });
        const children = [0, 1, 2].map(() =>
          spawn(process.execPath, ["--conditions=@async-tools/source", SERVER], {
            env,
            stdio: ["pipe", "ignore", "pipe"],
          }),
        );
        const outcomes = await Promise.all(
          children.map(
            (child) =>
              new Promise<string>((resolve) => {
                let stderr = "";
                child.stderr.on("data", (chunk: Buffer) => {
                  stderr += chunk.toString();
                  if (stderr.includes("store opened")) resolve("up");
                });
                child.once("exit", (code) => resolve(`exited ${code}: ${stderr.slice(-300)}`));
              }),
          ),
        );
        for (const child of children) child.kill("SIGKILL");
        expect(outcomes, `round ${round}`).toEqual(["up", "up", "up"]);
      }
    },
    budget(300_000),
  );
});
