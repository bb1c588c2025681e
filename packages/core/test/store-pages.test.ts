/**
 * What a start writes to the SQLite store's WAL, counted in frames (pages), not timed: with `durability:
 * "full"` each commit's frames are what the fsync before the answer pays for. And a store file written by
 * the previous schema version (a fixture made by that version's code) opens, upgrades, and keeps its work.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "@async-tools/test-helpers/temp";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";

/** One WAL frame: the page it holds and, for the last frame of a commit, the file's length in pages. */
interface Frame {
  page: number;
  commit: boolean;
}

/**
 * The frames of the WAL of `file` written since it was last restarted: those whose salts match the header's
 * (a restarted WAL keeps its length, and the frames after the new ones still carry the old salts).
 */
function walFrames(file: string): Frame[] {
  const wal = readFileSync(`${file}-wal`);
  if (wal.length < 32) return [];
  const pageBytes = wal.readUInt32BE(8);
  const salts = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  const frames: Frame[] = [];
  for (let at = 32; at + 24 + pageBytes <= wal.length; at += 24 + pageBytes) {
    if (wal.readUInt32BE(at + 8) !== salts[0] || wal.readUInt32BE(at + 12) !== salts[1]) break;
    frames.push({ page: wal.readUInt32BE(at), commit: wal.readUInt32BE(at + 4) !== 0 });
  }
  return frames;
}

/** The table or index each page of `file` belongs to (`page 1` for the file's header page). */
function pageOwners(file: string): Map<number, string> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const rows = db.prepare("SELECT name, pageno FROM dbstat").all() as { name: string; pageno: number }[];
    const owners = new Map(rows.map((row) => [row.pageno, row.name]));
    owners.set(1, "page 1");
    return owners;
  } finally {
    db.close();
  }
}

const noop = defineAsyncTool({
  name: "noop",
  description: "Does nothing, durably",
  input: z.object({ n: z.number().int() }),
  output: z.object({ n: z.number() }),
  retry: false,
  run: async (_ctx, { n }) => ({ n }),
});

describe("the pages a start writes", () => {
  it("writes at most 8.25 WAL frames per start and 17.5 per no-op job: no page of an AUTOINCREMENT counter, a task id index or a commit-number row", async () => {
    using dir = tempDir("store-pages");
    const file = join(dir.path, "jobs.db");
    const tools = await createAsyncTools({ name: "pages", store: `sqlite:${file}`, tools: [noop] });
    const run = async (n: number) => {
      const before = walFrames(file).length;
      const { jobId } = await tools.start(noop, { n });
      const start = walFrames(file).slice(before);
      await tools.wait([jobId], { timeoutMs: 60_000 });
      return start;
    };
    // A warm store: its B-trees past their first pages.
    let n = 0;
    for (; n < 100; n++) await run(n);
    const jobs = 60;
    const from = walFrames(file).length;
    const starts: Frame[][] = [];
    for (let i = 0; i < jobs; i++) starts.push(await run(n++));
    const all = walFrames(file).slice(from);
    await tools.close();

    // One commit answers each start; the job's run is one more commit.
    expect(starts.every((frames) => frames.filter((frame) => frame.commit).length === 1)).toBe(true);
    expect(all.filter((frame) => frame.commit)).toHaveLength(2 * jobs);
    const owners = pageOwners(file);
    const written = new Set(all.map((frame) => owners.get(frame.page)));
    expect(written).not.toContain("sqlite_sequence");
    expect(written).not.toContain("sqlite_autoindex_tasks_1");
    // The commit number is in the file's header (page 1), not in a row of its own.
    expect(written).not.toContain("meta");
    const perStart = starts.flat().length / jobs;
    const perJob = all.length / jobs;
    expect({ perStart, perJob }).toEqual({
      perStart: expect.toSatisfy((x: number) => x <= 8.25),
      perJob: expect.toSatisfy((x: number) => x <= 17.5),
    });
  });
});

const threeSteps = defineAsyncTool({
  name: "three",
  description: "Three durable steps",
  input: z.object({ n: z.number().int() }),
  output: z.object({ total: z.number() }),
  retry: false,
  run: async (ctx, { n }) => {
    let total = 0;
    for (const step of [1, 2, 3]) total += await ctx.run(`step${step}`, async () => n * step);
    return { total };
  },
});

describe("the pages a job's steps write", () => {
  it("writes no page of the branch or lineage index for steps whose ids their job's id prefixes", async () => {
    using dir = tempDir("store-pages");
    const file = join(dir.path, "jobs.db");
    const tools = await createAsyncTools({ name: "pages", store: `sqlite:${file}`, tools: [threeSteps] });
    const run = async (n: number) => {
      const { jobId } = await tools.start(threeSteps, { n });
      await tools.wait([jobId], { timeoutMs: 60_000 });
    };
    let n = 0;
    for (; n < 100; n++) await run(n);
    const from = walFrames(file).length;
    for (let i = 0; i < 30; i++) await run(n++);
    const all = walFrames(file).slice(from);
    await tools.close();

    const owners = pageOwners(file);
    const written = all.map((frame) => owners.get(frame.page));
    expect(written).toContain("sqlite_autoindex_promises_1");
    expect(written.filter((owner) => owner === "promises_branch" || owner === "promises_origin")).toEqual([]);
    // The steps are still found by their job: the branch reloads whole, in order, after eviction.
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const steps = db.prepare("SELECT count(*) AS n FROM promises WHERE origin <> id").get();
      expect(steps).toEqual({ n: 3 * n });
    } finally {
      db.close();
    }
  });
});

const echo = defineAsyncTool({
  name: "echo",
  description: "Doubles its input in a step",
  input: z.object({ n: z.number().int() }),
  output: z.object({ n: z.number() }),
  retry: false,
  run: async (ctx, { n }) => ({ n: await ctx.run("double", async () => n * 2) }),
});

const gate = defineAsyncTool({
  name: "gate",
  description: "Was waiting when the fixture's process stopped; returns at once now",
  input: z.object({ n: z.number().int() }),
  output: z.object({ n: z.number() }),
  retry: false,
  // The fixture's job was started with this timeout (a century), so it has not timed out when the test runs:
  // with the default hour the file went stale an hour after it was made.
  timeoutMs: 100 * 365 * 24 * 3600 * 1000,
  run: async (_ctx, { n }) => ({ n }),
});

describe("a store file of schema version 2", () => {
  it("upgrades in place, keeping its finished jobs, its job in flight and the order of its job index", async () => {
    using dir = tempDir("store-v2");
    const file = join(dir.path, "jobs.db");
    // Written by the code of schema version 2 (edf89a5): three finished `echo` jobs (one step each), then a
    // `gate` job with a century's timeout still running when its process stopped.
    copyFileSync(join(import.meta.dirname, "fixtures", "stores", "v2.db"), file);
    const tools = await createAsyncTools({ name: "upgrade", store: `sqlite:${file}`, tools: [echo, gate] });
    try {
      const listed = await tools.list({ limit: 10 });
      expect(listed.jobs.map((job) => job.tool)).toEqual(["echo", "echo", "echo", "gate"]);
      const [first, , , waiting] = listed.jobs.map((job) => job.jobId);
      expect((await tools.wait([first as string], { timeoutMs: 60_000 }))[0]).toMatchObject({
        status: "completed",
        result: { n: 2 },
      });
      const resumed = await tools.wait([waiting as string], { timeoutMs: 60_000 });
      expect(resumed[0]).toMatchObject({ status: "completed", result: { n: 7 } });
      const { jobId } = await tools.start(echo, { n: 5 });
      expect((await tools.wait([jobId], { timeoutMs: 60_000 }))[0]).toMatchObject({ result: { n: 10 } });
      const after = await tools.list({ limit: 10 });
      expect(after.jobs.map((job) => job.jobId)).toEqual([...listed.jobs.map((job) => job.jobId), jobId]);
    } finally {
      await tools.close();
    }
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const schema = (name: string) =>
        (db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").get(name) as { sql: string }).sql;
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: "4" });
      expect(schema("tasks")).toMatch(/WITHOUT ROWID$/);
      expect(schema("async_tools_jobs")).not.toMatch(/AUTOINCREMENT/);
      // The fixture's 10 commits, and this process's, are counted in the header now, not in a `meta` row.
      expect(db.prepare("SELECT value FROM meta WHERE key = 'commits'").get()).toBeUndefined();
      const { user_version: commits } = db.prepare("PRAGMA user_version").get() as { user_version: number };
      expect(commits).toBeGreaterThan(10);
    } finally {
      db.close();
    }
  });
});
