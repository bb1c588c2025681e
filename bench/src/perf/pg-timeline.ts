/**
 * The timeline of one three-step job on Postgres, start to result, as the DBOS comparison runs it (one
 * submitter: start, then wait): every query our store sends with when it starts and ends, every NOTIFY heard,
 * and the gaps where nothing is in flight. It hooks `pg`'s `Client.query` and the LISTEN client's notices in
 * this process, so it counts exactly what reaches Postgres. Skipped, saying why, where PostgreSQL cannot be
 * started.
 */
import { createRequire } from "node:module";
import { createAsyncTools } from "@async-tools/core";
import { postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { storeInit } from "../lib/postgres.ts";
import { fresh, type RunOptions, type ScenarioResult, skippedScenario } from "../lib/scenario.ts";
import { formatTable, spread } from "../lib/stats.ts";
import { threeStepTool } from "../lib/three-steps.ts";

const threeSteps = threeStepTool("three_step_timeline");

/** One query or notice, in ms since the job's start. */
interface Event {
  label: string;
  /** The index pool (commits without waiting for the disk) or the network's connections. */
  pool: "index" | "network" | "listen";
  at: number;
  end: number;
}

interface PgClientProto {
  query(...args: unknown[]): unknown;
  emit(event: string, ...args: unknown[]): boolean;
}

/** What a query is, from its text and parameters: an RPC's kind, a batch's kinds, or its first words. */
function labelOf(text: string, values: unknown[] | undefined): string {
  const kindOf = (body: unknown) => {
    try {
      const parsed = JSON.parse(String(body)) as {
        kind?: string;
        data?: { action?: { kind?: string } };
      };
      // A fenced request is named by what it fences: a step's create or settle.
      const action = parsed.kind === "task.fence" ? parsed.data?.action?.kind : undefined;
      return action === undefined ? (parsed.kind ?? "?") : `fence ${action}`;
    } catch {
      return "?";
    }
  };
  if (text.includes("resonate.resonate_rpc")) return `rpc ${kindOf(values?.[0])}`;
  if (text.includes("async_tools.rpc(")) return `async_tools.rpc ${kindOf(values?.[0])}`;
  if (text.includes("async_tools.rpc_batch"))
    return `batch [${((JSON.parse(String(values?.[0] ?? "[]")) as unknown[]) ?? []).map((body) => kindOf(JSON.stringify(body))).join(", ")}]`;
  const fn = /(async_tools|resonate)\.(\w+)\(/.exec(text);
  if (fn) return `${fn[1]}.${fn[2]}`;
  return text.replace(/\s+/g, " ").trim().slice(0, 48);
}

/** Records every query and notice of every `pg` client in this process while `on` is true. */
function hookPg(): { events: Event[]; on: boolean; origin: number } {
  const state = { events: [] as Event[], on: false, origin: 0 };
  const core = createRequire(import.meta.resolve("@async-tools/core/package.json"));
  const pg = core("pg") as { Client: { prototype: PgClientProto } };
  const proto = pg.Client.prototype;
  const query = proto.query;
  proto.query = function (this: { connectionParameters?: { options?: string } }, ...args: unknown[]) {
    const [first, second] = args;
    const text = typeof first === "string" ? first : ((first as { text?: string })?.text ?? "");
    const values = Array.isArray(second) ? second : (first as { values?: unknown[] })?.values;
    if (!state.on) return query.apply(this, args);
    const event: Event = {
      label: labelOf(text, values),
      pool: this.connectionParameters?.options?.includes("synchronous_commit") ? "index" : "network",
      at: performance.now() - state.origin,
      end: Number.NaN,
    };
    state.events.push(event);
    const ended = () => {
      event.end = performance.now() - state.origin;
    };
    // The pool passes a callback; a client used alone returns a promise.
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (...answer: unknown[]) => {
        ended();
        return last(...answer);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result instanceof Promise) result.then(ended, ended);
    return result;
  };
  const emit = proto.emit;
  proto.emit = function (this: unknown, name: string, ...args: unknown[]) {
    if (state.on && name === "notification") {
      const at = performance.now() - state.origin;
      const channel = (args[0] as { channel?: string }).channel ?? "";
      state.events.push({ label: `NOTIFY ${channel.slice(0, 40)}`, pool: "listen", at, end: at });
    }
    return emit.call(this, name, ...args);
  };
  return state;
}

/** The stretches of [0, total] where no query is in flight. */
function gapsOf(events: Event[], total: number): { from: number; to: number }[] {
  const busy = events
    .filter((e) => e.pool !== "listen")
    .map((e) => [e.at, Number.isNaN(e.end) ? total : e.end] as const)
    .sort((a, b) => a[0] - b[0]);
  const gaps: { from: number; to: number }[] = [];
  let covered = 0;
  for (const [from, to] of busy) {
    if (from > covered) gaps.push({ from: covered, to: from });
    covered = Math.max(covered, to);
  }
  if (total > covered) gaps.push({ from: covered, to: total });
  return gaps;
}

/** Traces three-step jobs run one at a time and prints one job's timeline and the per-job figures. */
export async function pgTimeline(options: RunOptions): Promise<ScenarioResult> {
  const name = "pg_timeline";
  const why = postgresUnavailable();
  if (why !== undefined) {
    return skippedScenario(name, "Timeline of a job on Postgres", why, []);
  }
  const jobs = options.quick ? 30 : 100;
  const hook = hookPg();
  const cluster = await startPostgres();
  try {
    cluster.createDatabase("timeline");
    await storeInit(cluster.url("timeline"));
    await using tools = await createAsyncTools({
      name: "bench-timeline",
      store: cluster.url("timeline"),
      tools: [threeSteps],
    });
    const one = async () => {
      const started = await tools.start(threeSteps, { n: fresh() });
      const [job] = await tools.wait([started.jobId], { timeoutMs: 30_000 });
      if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
    };
    for (let i = 0; i < 20; i++) await one();
    const traces: { events: Event[]; total: number; startMs: number }[] = [];
    for (let i = 0; i < jobs; i++) {
      hook.events = [];
      hook.origin = performance.now();
      hook.on = true;
      const started = await tools.start(threeSteps, { n: fresh() });
      const startMs = performance.now() - hook.origin;
      const [job] = await tools.wait([started.jobId], { timeoutMs: 30_000 });
      const total = performance.now() - hook.origin;
      if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
      // What the job left running (index writes off the path) is counted with it, not with the next.
      await new Promise((resolve) => setTimeout(resolve, 20));
      hook.on = false;
      traces.push({ events: hook.events, total, startMs });
    }
    const totals = traces.map((t) => t.total);
    const median = spread(totals).median;
    const typical = traces.reduce((a, b) =>
      Math.abs(b.total - median) < Math.abs(a.total - median) ? b : a,
    );
    const show = (n: number) => n.toFixed(2);
    const rows = typical.events
      .slice()
      .sort((a, b) => a.at - b.at)
      .map((e) => [show(e.at), Number.isNaN(e.end) ? "-" : show(e.end), show(e.end - e.at), e.pool, e.label]);
    const gaps = gapsOf(typical.events, typical.total).filter((g) => g.to - g.from >= 0.05);
    const onPath = (t: (typeof traces)[number]) =>
      t.events.filter((e) => e.pool !== "listen" && e.at < t.total);
    const perJob = (pick: (t: (typeof traces)[number]) => number) => spread(traces.map(pick)).median;
    const counts = new Map<string, number>();
    for (const t of traces)
      for (const e of t.events)
        if (e.pool !== "listen")
          counts.set(`${e.pool} ${e.label}`, (counts.get(`${e.pool} ${e.label}`) ?? 0) + 1);
    const idle = (t: (typeof traces)[number]) =>
      gapsOf(t.events, t.total).reduce((sum, g) => sum + (g.to - g.from), 0);
    const figures = {
      jobs,
      critical_path_ms: median,
      start_ms: perJob((t) => t.startMs),
      idle_ms: perJob(idle),
      queries_per_job:
        traces.reduce((n, t) => n + t.events.filter((e) => e.pool !== "listen").length, 0) / jobs,
      queries_on_path_per_job: perJob((t) => onPath(t).length),
      notifies_per_job:
        traces.reduce((n, t) => n + t.events.filter((e) => e.pool === "listen").length, 0) / jobs,
      by_query: Object.fromEntries([...counts].map(([k, v]) => [k, Math.round((v / jobs) * 100) / 100])),
    };
    const table = [
      formatTable(
        `One three-step job on Postgres (${cluster.version}), start to result, one submitter: the median of ${jobs} (ms since start)`,
        ["start", "end", "ms", "on", "query or notice"],
        rows,
      ),
      `Gaps with nothing in flight: ${gaps.map((g) => `${show(g.from)}-${show(g.to)}`).join(", ") || "none"}`,
      `Per job (median of ${jobs}): ${show(median)} ms start to result (start ${show(figures.start_ms)} ms), ${show(figures.idle_ms)} ms idle; ` +
        `${figures.queries_per_job.toFixed(1)} queries (${figures.queries_on_path_per_job} before the result), ${figures.notifies_per_job.toFixed(1)} notices`,
      formatTable(
        "Queries per job",
        ["pool and query", "per job"],
        [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, (v / jobs).toFixed(2)]),
      ),
    ].join("\n");
    return { name, table, figures, checks: [] };
  } finally {
    await cluster.stop();
  }
}
