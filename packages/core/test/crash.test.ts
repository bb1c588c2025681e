import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function start(env: Record<string, string>) {
  const child = await startStdioChild(SERVER, { env: env });
  cleanup.push(() => child.close().catch(() => undefined));
  return child;
}

describe("a SIGKILL in the middle of a multi-step job", () => {
  it("resumes every job under its ID, keeping progress, without repeating a finished step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-crash-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sideEffects = join(dir, "effects.log");
    const env = { ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`, SIDE_EFFECTS: sideEffects };

    const first = await start({ ...env, STEP2_MS: "60000" });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const result = await first.call("start_steps", { n });
      ids.push((result.structuredContent as { job_id: string }).job_id);
    }
    await expect.poll(() => ids.every((id) => sideEffectCounts(sideEffects).get(`${id} 2`) === 1)).toBe(true);
    await first.kill();

    // Step 2 takes 3 s after the restart, so the probe below still sees the resumed jobs working.
    const second = await start({ ...env, STEP2_MS: "3000" });
    const probed = (await second.call("probe_steps", { job_ids: ids })).structuredContent as {
      jobs: { status: string; progress?: { message?: string } }[];
    };
    expect(probed.jobs.map((j) => j.status)).toEqual(["working", "working", "working"]);
    for (const job of probed.jobs) expect(job.progress?.message).toMatch(/step (one|two) done/);

    let jobs: { job_id: string; status: string; result?: { total: number } }[] = [];
    await expect
      .poll(async () => {
        const out = (await second.call("await_steps", { job_ids: ids, timeout_seconds: 5 }))
          .structuredContent as {
          jobs: typeof jobs;
          done: boolean;
        };
        jobs = out.jobs;
        return out.done;
      })
      .toBe(true);
    expect(jobs.map((j) => [j.job_id, j.status, j.result?.total])).toEqual([
      [ids[0], "completed", 5],
      [ids[1], "completed", 7],
      [ids[2], "completed", 9],
    ]);
    const seen = sideEffectCounts(sideEffects);
    for (const id of ids) {
      expect(seen.get(`${id} 1`), `step 1 of ${id}`).toBe(1);
      expect(seen.get(`${id} 2`), `step 2 of ${id}`).toBe(2);
      expect(seen.get(`${id} 3`), `step 3 of ${id}`).toBe(1);
    }
  });
});
