/**
 * Concurrency: 100 concurrent `start` calls with the same input, from 100 separate MCP connections, must run
 * the work exactly once. Over Streamable HTTP (100 sessions on a server process) and in process (100
 * connections on one set of async tools).
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime } from "../lib/bench-server.ts";
import { startHttpServer } from "../lib/child.ts";
import { connectInProcess } from "../lib/in-process.ts";
import { awaitJobs, type Caller, connectHttp, startJob } from "../lib/mcp.ts";
import type { Check, RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { readSideEffects } from "../lib/side-effects.ts";
import { formatTable } from "../lib/stats.ts";

const CLIENTS = 100;

interface Round {
  ids: number;
  created: number;
  errors: number;
  executions: [number, number, number];
  completed: boolean;
}

/** All callers start the same input at once; then the side-effect file is read for that job. */
async function round(callers: Caller[], n: number, sideEffects: string): Promise<Round> {
  const results = await Promise.allSettled(callers.map((c) => startJob(c, "three_step", { n, step_ms: 20 })));
  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const ids = new Set(ok.map((r) => r.id));
  const [id] = ids;
  const [first] = callers;
  const [job] =
    id === undefined || first === undefined ? [] : await awaitJobs(first, "three_step", [id], 30_000);
  const lines = readSideEffects(sideEffects).filter((line) => line.jobId === id);
  const executions = [1, 2, 3].map((step) => lines.filter((line) => line.step === step).length) as [
    number,
    number,
    number,
  ];
  return {
    ids: ids.size,
    created: ok.filter((r) => r.created).length,
    errors: results.length - ok.length,
    executions,
    completed: job?.status === "completed" && job.result?.total === 6 * n,
  };
}

function judge(label: string, rounds: Round[]): Check[] {
  const once = rounds.every(
    (r) => r.ids === 1 && r.errors === 0 && r.completed && r.executions.every((e) => e === 1),
  );
  const createdOnce = rounds.every((r) => r.created === 1);
  const worst = Math.max(0, ...rounds.map((r) => r.created));
  return [
    {
      name: `${CLIENTS} concurrent identical starts run once (${label})`,
      ok: once,
      detail: rounds
        .map((r) => `${r.ids} ID, ${r.errors} errors, steps ran ${r.executions.join("/")}`)
        .filter((v, i, all) => all.indexOf(v) === i)
        .join("; ")
        .concat(` over ${rounds.length} rounds`),
    },
    {
      name: `exactly one of them is told created=true (${label})`,
      ok: createdOnce,
      // Not among the criteria (one execution is), and a defect of JobEngine.start: see performance.md.
      warnOnly: true,
      detail: `created=true answers per round: ${rounds.map((r) => r.created).join(", ")} (worst ${worst})`,
    },
  ];
}

/** Runs the concurrency checks over HTTP and in process. */
export async function concurrency(options: RunOptions): Promise<ScenarioResult> {
  const roundCount = options.quick ? 3 : 10;
  using dir = tempDir("concurrency");
  const checks: Check[] = [];
  const figures: Record<string, unknown> = {};

  const httpEffects = join(dir.path, "http.log");
  const server = await startHttpServer({
    store: `sqlite:${join(dir.path, "http.db")}`,
    sideEffects: httpEffects,
  });
  const httpCallers: Caller[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) httpCallers.push(await connectHttp(server.url));
    const rounds: Round[] = [];
    for (let r = 0; r < roundCount; r++) rounds.push(await round(httpCallers, 1_000 + r, httpEffects));
    checks.push(...judge("HTTP, 100 sessions", rounds));
    figures.http = rounds;
  } finally {
    for (const caller of httpCallers) await caller.close().catch(() => undefined);
    await server.kill();
  }

  const localEffects = join(dir.path, "local.log");
  const tools = await createBenchRuntime(`sqlite:${join(dir.path, "local.db")}`, localEffects);
  const localCallers: Caller[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) localCallers.push(await connectInProcess(tools));
    const rounds: Round[] = [];
    for (let r = 0; r < roundCount; r++) rounds.push(await round(localCallers, 2_000 + r, localEffects));
    checks.push(...judge("in process, 100 connections", rounds));
    figures.in_process = rounds;
  } finally {
    for (const caller of localCallers) await caller.close().catch(() => undefined);
    await tools.close();
  }
  const table = formatTable(
    "Concurrency",
    ["check", "result", "detail"],
    checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
  );
  return { name: "concurrency", table, figures, checks };
}
