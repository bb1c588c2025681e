/**
 * A store whose disk fills up: starts are refused with `STORE_IO`, and reads keep answering from what is
 * stored. The disk is a real tmpfs of 1 MiB that SQLite fills itself (SQLITE_FULL from the kernel's ENOSPC),
 * so it needs root; elsewhere the test is skipped.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorText, structured } from "@async-tools/test-helpers/mcp";
import { afterEach, describe, expect, it } from "vitest";
import { autoClosing, squareTool } from "./helpers.ts";

const asRoot = process.getuid?.() === 0;
const cleanups: (() => void)[] = [];
const connect = autoClosing();

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A directory on a fresh tmpfs of `size`, unmounted and removed after the test. */
function smallDisk(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-disk-full-"));
  const mount = join(dir, "disk");
  mkdirSync(mount);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mount], { stdio: "pipe" });
  cleanups.push(() => {
    execFileSync("umount", ["-l", mount], { stdio: "pipe" });
    rmSync(dir, { recursive: true, force: true });
  });
  return mount;
}

describe.skipIf(!asRoot)("a full disk", () => {
  it("refuses starts with STORE_IO and keeps answering probes and awaits of the jobs it holds", async () => {
    const path = join(smallDisk("1m"), "jobs.db");
    const c = await connect([squareTool({ runs: 0 })], `sqlite:${path}`);
    const started: string[] = [];
    let refusal = "";
    for (let n = 0; n < 100_000 && refusal === ""; n++) {
      const result = await c.call("start_square", { n, label: "x".repeat(200) });
      if (result.isError) refusal = errorText(result);
      else started.push(structured<{ job_id: string }>(result).job_id);
    }
    expect(refusal).toContain(path);
    expect(started.length).toBeGreaterThan(0);
    // Reads keep answering while the disk is still full, several times over.
    for (let round = 0; round < 3; round++) {
      const probe = await c.call("probe_square", { job_ids: started });
      const jobs = structured<{ jobs: { job_id: string; status: string }[] }>(probe).jobs;
      expect(jobs.map((job) => job.job_id)).toEqual(started);
      expect(jobs.every((job) => job.status !== "not_found")).toBe(true);
    }
    const awaited = await c.call("await_square", { job_ids: started, timeout_seconds: 1 });
    expect(structured<{ jobs: unknown[] }>(awaited).jobs).toHaveLength(started.length);
  });
});
