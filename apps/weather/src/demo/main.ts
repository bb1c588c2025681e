#!/usr/bin/env node
/**
 * `pnpm demo`: a tour of the weather server as an MCP client sees it. It starts several jobs at once and
 * watches them, shows that a repeated start joins the existing job, and SIGKILLs the server mid-request to
 * show every job finishing after a restart. Runs offline against a local fake when Open-Meteo is out of reach.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_ARCHIVE_URL } from "../open-meteo/client.ts";
import { CITIES, type City, monthAt } from "./cities.ts";
import { DemoError } from "./demo-error.ts";
import { SHOW_CURSOR, type WatchedJob, watchJobs } from "./progress.ts";
import { type Cell, renderTable } from "./table.ts";
import { detectTerminal, type Terminal } from "./terminal.ts";
import { chooseUpstream, FAKE_LATENCY_MS, type Upstream } from "./upstream.ts";
import { type JobView, startWeatherServer, type WeatherServer } from "./weather-server.ts";

const USAGE =
  "usage: pnpm demo [--offline]\n  --offline  use a local fake of Open-Meteo instead of the real archive";

/** The fake's delays for the first five requests, so the cities finish one after another. */
const GATHER_LATENCIES_MS = [1500, 2600, 1900, 3000, 2200];
/** Long enough that the SIGKILL always lands while the fake is still answering. */
const IN_FLIGHT_LATENCY_MS = 30_000;

interface Demo {
  term: Terminal;
  store: string;
  upstream: Upstream;
  /** The server the demo talks to now. */
  server: WeatherServer;
  /** Starts a new server on the same store and archive (closed at exit); it becomes `server`. */
  restart(): Promise<WeatherServer>;
}

type Defer = (step: () => unknown) => void;

function monthLabel(year: number, month: number): string {
  return new Date(Date.UTC(year, month - 1)).toLocaleString("en-US", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

function heading(term: Terminal, text: string): void {
  term.line();
  term.line(term.paint("bold", text));
}

function ms(start: number): string {
  return `${Math.round(Date.now() - start)} ms`;
}

function seconds(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`;
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const began = Date.now();
  while (!(await check())) {
    if (Date.now() - began > timeoutMs) throw new DemoError(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Awaits every job (await_result may return early with some still working) and insists they completed. */
async function collectAll(server: WeatherServer, watched: readonly WatchedJob[]): Promise<JobView[]> {
  const names = watched.map((job) => job.jobName);
  let answer = await server.collect(names, 30);
  for (let round = 1; !answer.done && round < 4; round++) answer = await server.collect(names, 30);
  const problems = answer.jobs.flatMap((job, i) =>
    job.status === "completed" && job.result
      ? []
      : [`${watched[i]?.label ?? job.job_name} ${job.status}${job.error ? `: ${job.error}` : ""}`],
  );
  if (problems.length > 0) throw new DemoError(`not every job completed: ${problems.join("; ")}`);
  return answer.jobs;
}

async function startAll(server: WeatherServer, cities: readonly City[], year: number, month: number) {
  const since = Date.now();
  const started = await Promise.all(cities.map((city) => server.start(monthAt(city, year, month))));
  const watched = started.map((job, i) => ({ label: cities[i]?.name ?? "", jobName: job.job_name, since }));
  return { since, started, watched };
}

function oneDecimal(value: number | null): string {
  return value === null ? "–" : value.toFixed(1);
}

function summaryTable(term: Terminal, watched: readonly WatchedJob[], jobs: readonly JobView[]): string[] {
  const rows = jobs.map((job, i): Cell[] => {
    const summary = job.result?.summary;
    const wettest = summary?.wettest_day;
    return [
      watched[i]?.label ?? job.job_name,
      oneDecimal(summary?.temperature_min_c ?? null),
      oneDecimal(summary?.temperature_max_c ?? null),
      oneDecimal(summary?.temperature_mean_c ?? null),
      oneDecimal(summary?.precipitation_total_mm ?? null),
      wettest
        ? `${wettest.date} ${wettest.precipitation_mm.toFixed(1).padStart(5)} mm`
        : { text: "dry month", style: "dim" },
    ];
  });
  return renderTable(
    term,
    [
      { header: "City", style: "bold" },
      { header: "Min °C", align: "right", style: "cyan" },
      { header: "Max °C", align: "right", style: "red" },
      { header: "Mean °C", align: "right" },
      { header: "Precip mm", align: "right", style: "blue" },
      { header: "Wettest day" },
    ],
    rows,
  );
}

async function setUp(term: Terminal, offline: boolean, defer: Defer): Promise<Demo> {
  term.line(
    `${term.paint("bold", "async-tools weather demo")} ${term.paint("dim", "· durable MCP tools: start, watch, collect")}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "weather-demo-"));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const store = `sqlite:${join(dir, "jobs.db")}`;

  const upstream = await chooseUpstream(offline);
  if (upstream.kind === "offline") {
    defer(() => upstream.fake.close());
    if (upstream.why !== "--offline") {
      term.line(
        term.paint(
          "yellow",
          `Open-Meteo is unreachable (${upstream.why}): going on offline with a local fake.`,
        ),
      );
    }
  }
  const spawnServer = async () => {
    const server = await startWeatherServer({
      store,
      archiveUrl: upstream.url,
      // The fake never fails on its own; a short retry delay only matters if it is made to.
      ...(upstream.kind === "offline" ? { retryInitialMs: 200 } : {}),
    });
    defer(() => server.close());
    return server;
  };
  const demo: Demo = {
    term,
    store,
    upstream,
    server: await spawnServer(),
    restart: async () => {
      demo.server = await spawnServer();
      return demo.server;
    },
  };
  const tools = await demo.server.toolNames();

  const source =
    upstream.kind === "online"
      ? `${upstream.url === DEFAULT_ARCHIVE_URL ? "Open-Meteo" : "OPEN_METEO_ARCHIVE_URL"} ${upstream.url}`
      : `local fake archive ${upstream.url} (${FAKE_LATENCY_MS / 1000}-3 s per request)`;
  const label = (text: string) => term.paint("dim", text.padEnd(10));
  term.line();
  term.line(`  ${label("store")}${store} ${term.paint("dim", "(fresh, removed at exit)")}`);
  term.line(`  ${label("upstream")}${source}`);
  term.line(`  ${label("server")}pid ${demo.server.pid} over stdio: ${tools.join(", ")}`);
  return demo;
}

async function gatherCities(demo: Demo) {
  const { term, server, upstream } = demo;
  heading(
    term,
    `1. Start ${CITIES.length} cities at once (${monthLabel(2024, 1)}), probe until done, collect`,
  );
  if (upstream.kind === "offline")
    upstream.fake.setScript(GATHER_LATENCIES_MS.map((latencyMs) => ({ latencyMs })));
  const { since, started, watched } = await startAll(server, CITIES, 2024, 1);
  term.line(
    `  start_gathering returned ${started.length} job_names in ${ms(since)}; the work runs in the server`,
  );
  term.line();
  await watchJobs(term, server, watched);
  const jobs = await collectAll(server, watched);
  term.line();
  for (const line of summaryTable(term, watched, jobs)) term.line(line);
  return started;
}

async function showDedup(demo: Demo, first: { job_name: string }) {
  const { term, server, upstream } = demo;
  const city = CITIES[0];
  heading(term, `2. Start ${city.name}, ${monthLabel(2024, 1)} again`);
  const before = upstream.kind === "offline" ? upstream.fake.requests() : undefined;
  const again = await server.start(monthAt(city, 2024, 1));
  if (again.job_name !== first.job_name || again.created) {
    throw new DemoError(
      `starting ${city.name} again gave ${again.job_name} (created: ${again.created}), expected ${first.job_name} (created: false)`,
    );
  }
  let upstreamNote = "";
  if (upstream.kind === "offline") {
    const after = upstream.fake.requests();
    if (after !== before)
      throw new DemoError(`the repeated start reached the archive (requests ${before} → ${after})`);
    upstreamNote = `; archive requests ${before} → ${after}`;
  }
  term.line(
    `  same job_name ${term.paint("dim", again.job_name)}, created: false, status: ${again.status}${upstreamNote}`,
  );
}

async function crashAndRecover(demo: Demo) {
  const { term, upstream } = demo;
  const cities = [CITIES[0], CITIES[2], CITIES[4]];
  heading(
    term,
    `3. Start ${cities.length} jobs (${monthLabel(2024, 2)}), SIGKILL the server mid-request, restart it`,
  );
  const before = upstream.kind === "offline" ? upstream.fake.requests() : 0;
  if (upstream.kind === "offline") {
    upstream.fake.setScript(cities.map(() => ({ latencyMs: IN_FLIGHT_LATENCY_MS })));
  }
  const first = demo.server;
  const { watched } = await startAll(first, cities, 2024, 2);
  const names = watched.map((job) => job.jobName);
  if (upstream.kind === "offline") {
    const fake = upstream.fake;
    await until(
      () => fake.requests() >= before + cities.length,
      10_000,
      "the archive did not get every request",
    );
  } else {
    // Open-Meteo may answer before the kill; the demo then says how many jobs were really in flight.
    await until(
      async () => (await first.probe(names)).every((job) => job.status !== "working" || job.progress),
      10_000,
      "the jobs did not start asking Open-Meteo",
    );
  }
  const inFlight = (await first.probe(names)).filter((job) => job.status === "working").length;
  const killedAt = upstream.kind === "offline" ? upstream.fake.requests() : 0;
  await first.kill();
  term.line(
    `  ${term.paint(["bold", "red"], "SIGKILL")} server pid ${first.pid} with ${inFlight} of ${cities.length} jobs in flight` +
      (upstream.kind === "offline" ? ` (the archive had received ${killedAt - before} requests)` : ""),
  );

  const restartedAt = Date.now();
  const second = await demo.restart();
  term.line(`  restarted: server pid ${second.pid} on the same store, in ${ms(restartedAt)}`);
  term.line();
  const recovered = watched.map((job) => ({ ...job, since: restartedAt }));
  await watchJobs(term, second, recovered);
  const jobs = await collectAll(second, recovered);
  const sameNames = jobs.every((job, i) => job.job_name === names[i]);
  if (!sameNames)
    throw new DemoError(
      `recovered jobs came back under other names: ${jobs.map((j) => j.job_name).join(", ")}`,
    );
  const took = seconds(restartedAt);
  term.line();
  term.line(
    `  ${term.paint("green", `recovered ${jobs.length}/${cities.length} jobs under their original job_names in ${took}`)} after the restart`,
  );
  if (upstream.kind === "offline") {
    const after = upstream.fake.requests();
    const reran = after - killedAt === inFlight ? ": each interrupted request ran once more" : "";
    term.line(`  archive requests ${killedAt} → ${after}${reran}`);
  }
}

function closing(term: Terminal, began: number): void {
  term.line();
  term.line(
    `${term.paint("green", "✓")} Done in ${seconds(began)}: parallel jobs with live progress, dedup by arguments, recovery after SIGKILL.`,
  );
  term.line(
    `  Add the server to Claude Desktop: ${term.paint("bold", "pnpm --silent --filter @async-tools/weather config:claude")}`,
  );
}

async function main(): Promise<number> {
  let offline: boolean;
  try {
    const { values } = parseArgs({
      // `pnpm demo -- --offline` passes the `--` through; people type it out of npm habit.
      args: process.argv.slice(2).filter((arg) => arg !== "--"),
      options: {
        offline: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    offline = values.offline;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const term = detectTerminal();
  const began = Date.now();
  const deferred: (() => unknown)[] = [];
  const defer: Defer = (step) => deferred.push(step);
  let demo: Demo | undefined;
  const cleanUp = async () => {
    for (const step of deferred.splice(0).reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
  };

  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    if (term.live) term.write(SHOW_CURSOR);
    term.line("\ninterrupted: stopping the server and cleaning up");
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    demo = await setUp(term, offline, defer);
    const [first] = await gatherCities(demo);
    if (first === undefined) throw new DemoError("start_gathering returned no jobs for the cities");
    await showDedup(demo, first);
    await crashAndRecover(demo);
    closing(term, began);
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    const err = detectTerminal(process.stderr);
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`\n${err.paint(["bold", "red"], "demo failed:")} ${message}\n`);
    if (!(error instanceof DemoError) && error instanceof Error && error.stack) {
      process.stderr.write(`${err.paint("dim", error.stack)}\n`);
    }
    const log = demo?.server.stderr().trim();
    if (log) {
      const tail = log.split("\n").slice(-8).join("\n");
      process.stderr.write(`${err.paint("dim", `last lines the server wrote to stderr:\n${tail}`)}\n`);
    }
    return 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main();
// Everything is closed by now; should some handle still linger, do not leave a user staring at a hung demo.
setTimeout(() => process.exit(), 3000).unref();
