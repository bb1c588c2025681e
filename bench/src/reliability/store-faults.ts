/**
 * Store faults: the store's directory under a regular file, missing, read-only, a WAL damaged after a crash,
 * and a disk that fills up (reads must still answer).
 * Each must fail with an AsyncToolsError whose code and message name the store path, and no job acknowledged
 * before the disk filled may be lost once space is freed and the server restarts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AsyncToolsError, jobIdOf } from "@async-tools/core";
import { textOf } from "@async-tools/test-helpers/mcp";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime, noopJob } from "../lib/bench-server.ts";
import { startStdioServer } from "../lib/child.ts";
import { canMount, mountTmpfs } from "../lib/mounts.ts";
import type { Check, RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { formatTable } from "../lib/stats.ts";

const SERVER = join(import.meta.dirname, "..", "lib", "server.ts");

/** Opens `store` and starts one job; returns the error, or `undefined` when the store works. */
async function openError(store: string): Promise<unknown> {
  try {
    const tools = await createBenchRuntime(store);
    try {
      const started = await tools.start(noopJob, { n: 1 });
      const [job] = await tools.wait([started.jobId], { timeoutMs: 10_000 });
      if (job?.status !== "completed") return new Error(`the job ended ${job?.status}`);
    } finally {
      await tools.close();
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A check that `error` is an AsyncToolsError with `code` whose message names `path`. */
function clearError(name: string, error: unknown, code: string, path: string): Check {
  const ok = error instanceof AsyncToolsError && error.code === code && error.message.includes(path);
  const what =
    error instanceof AsyncToolsError
      ? `${error.code}: ${error.message}`
      : error === undefined
        ? "no error"
        : `${(error as Error).constructor?.name ?? "?"} (not AsyncToolsError): ${(error as Error).message ?? String(error)}`;
  return { name, ok, detail: what.slice(0, 300) };
}

/** The server process refuses a bad store: exit code 1 and a stderr line naming the path. */
function serverRefuses(store: string, path: string): Check {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const out = spawnSync(process.execPath, ["--conditions=@async-tools/source", SERVER], {
    env: { ...env, ASYNC_TOOLS_STORE: store },
    input: "",
    timeout: 30_000,
    encoding: "utf8",
  });
  const line =
    out.stderr.split("\n").find((l) => l.startsWith("async-tools-bench:")) ?? out.stderr.slice(0, 200);
  return {
    name: "the server process refuses it: exit 1, stderr names the path",
    ok: out.status === 1 && line.includes(path),
    detail: `exit ${out.status}: ${line.slice(0, 250)}`,
  };
}

/**
 * Fills a tmpfs of `size` with jobs, started back to back (`waitEach` false) or each awaited before the next,
 * as a client that waits for its results does; the two patterns hit the full disk on different writes.
 */
async function diskFullInProcess(dir: string, size: string, waitEach: boolean): Promise<Check[]> {
  const label = `${size} tmpfs, ${waitEach ? "each job awaited" : "starts back to back"}`;
  using disk = mountTmpfs(join(dir, `full-${size}-${waitEach}`), `size=${size}`);
  const path = join(disk.path, "jobs.db");
  const store = `sqlite:${path}`;
  const acked: string[] = [];
  let failure: unknown;
  let refused: string | undefined;
  let completedInPlace = 0;
  let notInPlace: string[] = [];
  const tools = await createBenchRuntime(store);
  try {
    for (let n = 0; n < 50_000; n++) {
      try {
        const started = await tools.start(noopJob, { n });
        acked.push(started.jobId);
        if (waitEach) await tools.wait([started.jobId], { timeoutMs: 10_000 });
      } catch (error) {
        failure = error;
        refused = jobIdOf(noopJob, { n });
        break;
      }
    }
    disk.remount("size=64m");
    // Writes work again: the jobs the full disk stranded resume in this same process, with no restart.
    const jobs = await tools.wait(acked, { timeoutMs: 15_000 });
    completedInPlace = jobs.filter((job) => job.status === "completed").length;
    notInPlace = jobs
      .filter((job) => job.status !== "completed")
      .map((job) => `${job.status}${job.error ? ` (${JSON.stringify(job.error).slice(0, 80)})` : ""}`);
  } finally {
    await tools.close().catch(() => undefined);
  }
  const reopened = await createBenchRuntime(store);
  let completed = 0;
  let refusedStatus = "-";
  try {
    const jobs = await reopened.wait(acked, { timeoutMs: 30_000 });
    completed = jobs.filter((job) => job.status === "completed").length;
    if (refused !== undefined) refusedStatus = (await reopened.probe([refused]))[0]?.status ?? "-";
  } finally {
    await reopened.close();
  }
  return [
    clearError(`disk full (${label}): start fails with STORE_IO naming the path`, failure, "STORE_IO", path),
    {
      name: `disk full (${label}): once space is freed, every acknowledged job completes without a restart`,
      ok: acked.length > 0 && completedInPlace === acked.length,
      detail:
        `${completedInPlace}/${acked.length} acknowledged jobs completed in the same process within 15 s of freeing space` +
        (notInPlace.length > 0 ? `; the others: ${notInPlace.join(", ")}` : ""),
    },
    {
      name: `disk full (${label}): no acknowledged job lost after freeing space and restarting`,
      ok: acked.length > 0 && completed === acked.length,
      detail: `${completed}/${acked.length} jobs acknowledged before the disk filled completed after the restart`,
    },
    {
      name: `disk full (${label}): the refused start leaves no job behind`,
      ok: refusedStatus === "not_found",
      // Beyond the issue's criteria; a defect of JobEngine.start (see performance.md).
      warnOnly: true,
      detail: `probe of the refused input's ID after the restart: ${refusedStatus}${refusedStatus === "expired" ? ' ("finished long ago ... removed by the retention policy": its job-meta row was written before the store refused the job)' : ""}`,
    },
  ];
}

/** The same through the stdio server: what a model sees when the disk fills, and what survives it. */
async function diskFullOverMcp(dir: string, size: string, waitEach: boolean): Promise<Check[]> {
  const label = `${size} tmpfs, ${waitEach ? "each job awaited" : "starts back to back"}`;
  using disk = mountTmpfs(join(dir, `full-mcp-${size}-${waitEach}`), `size=${size}`);
  const path = join(disk.path, "jobs.db");
  const store = `sqlite:${path}`;
  const acked: string[] = [];
  let errorText = "";
  let answersAfter = false;
  let probeText = "";
  let probed: { status: string }[] = [];
  const server = await startStdioServer({ store });
  try {
    for (let n = 0; n < 50_000; n++) {
      const result = await server.call("start_noop_job", { n });
      if (result.isError) {
        errorText = textOf(result);
        break;
      }
      const id = (result.structuredContent as { job_id: string }).job_id;
      acked.push(id);
      if (waitEach) await server.call("await_noop_job", { job_ids: [id], timeout_seconds: 10 });
    }
    answersAfter = !(await server.call("noop", { n: 1 })).isError;
    // Reads answer from what is stored while the disk is still full.
    const probe = await server.call("probe_noop_job", { job_ids: acked });
    probeText = probe.isError ? textOf(probe) : "";
    probed = (probe.structuredContent as { jobs?: { status: string }[] } | undefined)?.jobs ?? [];
  } finally {
    await server.kill();
  }
  disk.remount("size=64m");
  const restarted = await startStdioServer({ store });
  let completed = 0;
  try {
    const out = await restarted.call("await_noop_job", { job_ids: acked, timeout_seconds: 30 }, 60_000);
    const jobs = (out.structuredContent as { jobs?: { status: string }[] } | undefined)?.jobs ?? [];
    completed = jobs.filter((job) => job.status === "completed").length;
  } finally {
    await restarted.close();
  }
  return [
    {
      name: `disk full over MCP (${label}): start answers isError naming the path, server answers on`,
      ok: errorText.includes(path) && answersAfter,
      detail: `${JSON.stringify(errorText.slice(0, 200))}; a plain call afterwards ${answersAfter ? "answered" : "failed"}`,
    },
    {
      name: `disk full over MCP (${label}): a probe of the acknowledged jobs answers while the disk is full`,
      ok:
        probeText === "" &&
        probed.length === acked.length &&
        probed.every((job) => job.status !== "not_found"),
      detail: probeText
        ? `isError: ${JSON.stringify(probeText.slice(0, 200))}`
        : `${probed.length}/${acked.length} jobs answered: ${[...new Set(probed.map((job) => job.status))].join(", ")}`,
    },
    {
      name: `disk full over MCP (${label}): no acknowledged job lost after restarting with space`,
      ok: acked.length > 0 && completed === acked.length,
      detail: `${completed}/${acked.length} acknowledged jobs completed after the restart`,
    },
  ];
}

/**
 * A stdio server acknowledges {@link WAL_JOBS} finished jobs and is SIGKILLed; its WAL is then damaged
 * (`damage`). Opening the store must refuse it with STORE_CORRUPT naming the path, and leave its files as
 * they were: SQLite alone would replay the WAL up to the damage and start without the jobs after it.
 */
async function damagedWal(dir: string, name: string, damage: (wal: string) => void): Promise<Check> {
  const path = join(dir, `wal-${name.replaceAll(" ", "-")}`, "jobs.db");
  const store = `sqlite:${path}`;
  const server = await startStdioServer({ store });
  try {
    for (let n = 0; n < WAL_JOBS; n++) {
      const started = await server.call("start_noop_job", { n });
      const id = (started.structuredContent as { job_id: string }).job_id;
      await server.call("await_noop_job", { job_ids: [id], timeout_seconds: 10 });
    }
  } finally {
    await server.kill();
  }
  damage(`${path}-wal`);
  const files = () =>
    [path, `${path}-wal`].map((f) => (existsSync(f) ? readFileSync(f).toString("base64") : "-"));
  const before = files();
  const check = clearError(
    `${name}: the store is refused with STORE_CORRUPT`,
    await openError(store),
    "STORE_CORRUPT",
    path,
  );
  const untouched = files().every((file, i) => file === before[i]);
  return {
    ...check,
    ok: check.ok && untouched,
    detail: `${check.detail}; files ${untouched ? "untouched" : "CHANGED"}`,
  };
}

const WAL_JOBS = 50;

/** Runs the store-fault checks. */
export async function storeFaults(_options: RunOptions): Promise<ScenarioResult> {
  using dir = tempDir("faults");
  const checks: Check[] = [];

  const blocker = join(dir.path, "a-file");
  writeFileSync(blocker, "not a directory\n");
  const underFile = join(blocker, "jobs.db");
  checks.push(
    clearError(
      "store path under a regular file",
      await openError(`sqlite:${underFile}`),
      "STORE_IO",
      underFile,
    ),
  );
  checks.push(serverRefuses(`sqlite:${underFile}`, underFile));

  const missing = join(dir.path, "missing", "deeper", "jobs.db");
  const missingError = await openError(`sqlite:${missing}`);
  checks.push({
    name: "missing directory: created, the store works",
    ok: missingError === undefined && existsSync(missing),
    detail: missingError === undefined ? "directory created, a job completed" : String(missingError),
  });

  checks.push(
    await damagedWal(dir.path, "WAL header damaged after a crash", (wal) =>
      writeFileSync(wal, Buffer.alloc(32, 0xff), { flag: "r+" }),
    ),
    await damagedWal(dir.path, "WAL truncated after a crash", (wal) =>
      truncateSync(wal, Math.floor(statSync(wal).size / 2)),
    ),
    await damagedWal(dir.path, "WAL deleted after a crash", (wal) => rmSync(wal)),
  );

  const mountable = canMount(join(dir.path, "probe"));
  if (!mountable.ok) {
    const skip = (name: string): Check => ({
      name,
      ok: true,
      skipped: true,
      detail: `no tmpfs: ${mountable.why}`,
    });
    checks.push(skip("read-only directory"), skip("disk full: clear error, no acknowledged job lost"));
  } else {
    {
      using readOnly = mountTmpfs(join(dir.path, "ro"), "size=1m,ro");
      const inside = join(readOnly.path, "jobs.db");
      checks.push(
        clearError("read-only directory (ro tmpfs)", await openError(`sqlite:${inside}`), "STORE_IO", inside),
      );
      const below = join(readOnly.path, "sub", "jobs.db");
      checks.push(
        clearError(
          "missing directory on a read-only filesystem",
          await openError(`sqlite:${below}`),
          "STORE_IO",
          below,
        ),
      );
    }
    {
      using later = mountTmpfs(join(dir.path, "later-ro"), "size=4m");
      const path = join(later.path, "jobs.db");
      const created = await openError(`sqlite:${path}`);
      later.remount("ro");
      checks.push(
        clearError(
          "existing store, filesystem turned read-only",
          await openError(`sqlite:${path}`),
          "STORE_IO",
          path,
        ),
      );
      later.remount("rw");
      const again = await openError(`sqlite:${path}`);
      checks.push({
        name: "existing store works again once writable",
        ok: created === undefined && again === undefined,
        detail: again === undefined ? "reopened, a job completed" : String(again),
      });
    }
    for (const size of ["512k", "1m", "2m"]) {
      for (const waitEach of [false, true])
        checks.push(...(await diskFullInProcess(dir.path, size, waitEach)));
    }
    for (const waitEach of [false, true]) checks.push(...(await diskFullOverMcp(dir.path, "1m", waitEach)));
  }
  return {
    name: "store_faults",
    table: formatTable(
      "Store faults",
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.skipped ? "skipped" : c.ok ? "pass" : "FAIL", c.detail]),
    ),
    figures: { tmpfs: mountable.ok ? "mounted" : mountable.why },
    checks,
  };
}
