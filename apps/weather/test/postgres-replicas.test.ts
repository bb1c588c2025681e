/**
 * Three weather `--http` replicas on one Postgres store (a throwaway cluster of Debian's PostgreSQL), run as a
 * least-privilege worker role after `store init` as the owner, against a fake Open-Meteo: every replica, its
 * dashboard and the CLI list every job; the same arguments through two replicas make one job and one upstream
 * request; a SIGKILLed replica's jobs go to the survivors within 5 s; a cancel through another replica stops
 * the running replica's upstream request. Skipped, in one line, where PostgreSQL cannot be started.
 */
import { join } from "node:path";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { budget } from "../../../vitest.budgets.ts";
import { type RunningServer, startHttpServer, structured } from "./harness.ts";
import { type FakeOpenMeteo, startFakeOpenMeteo } from "./support/fake-open-meteo.ts";
import { type Run, runProcess } from "./support/run-process.ts";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`weather postgres tests skipped: ${unavailable}`);

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
/** Core's `async-tools` command: an operator migrates the database with it, as docs/scaling.md says. */
const ASYNC_TOOLS = join(import.meta.dirname, "..", "..", "..", "packages", "core", "src", "cli", "main.ts");
const place = { latitude: 51.05, longitude: -114.07, year: 2024 };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The command line `bin` (the weather command or core's) with `args` on `store`. */
function cli(bin: string, store: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ASYNC_TOOLS_STORE;
  delete env.RESONATE_URL;
  return runProcess(process.execPath, ["--conditions=@async-tools/source", bin, ...args, "--store", store], {
    env,
  });
}

type Replica = RunningServer & { url: string };
type Jobs = { jobs: { job_name: string; status: string }[]; done: boolean };

async function replicas(store: string, archiveUrl: string, count: number): Promise<Replica[]> {
  const started: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const replica = await startHttpServer(store, archiveUrl);
    cleanup.push(() => replica.close());
    started.push(replica);
  }
  return started;
}

async function start(replica: Replica, month: number): Promise<string> {
  return structured<{ job_name: string }>(await replica.call("start_gathering", { ...place, month }))
    .job_name;
}

/**
 * The replica that runs `name`: Resonate hands a job to any replica, and one that did not start it logs that it
 * resumed it (re-validating its input); otherwise its starter runs it.
 */
function runnerOf(all: Replica[], starter: Replica, name: string): Replica {
  const resumed = (r: Replica) =>
    r
      .stderr()
      .split("\n")
      .some((line) => line.includes("job resumed") && line.includes(name));
  return all.find((r) => r !== starter && resumed(r)) ?? starter;
}

async function awaitDone(replica: Replica, names: string[]): Promise<Jobs["jobs"]> {
  let out: Jobs = { jobs: [], done: false };
  await expect
    .poll(async () => {
      out = structured<Jobs>(await replica.call("await_result", { job_names: names, timeout_seconds: 5 }));
      return out.done;
    })
    .toBe(true);
  return out.jobs;
}

describe.skipIf(unavailable !== undefined)("weather replicas on one Postgres store", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, budget(120_000));
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A database initialised twice by its owner (the second applies nothing), and a worker role's URL. */
  async function database(name: string): Promise<string> {
    cluster.createDatabase(name);
    const first = await cli(ASYNC_TOOLS, cluster.url(name), "store", "init");
    expect(first.code, first.stderr).toBe(0);
    const again = await cli(ASYNC_TOOLS, cluster.url(name), "store", "init");
    expect(again.stdout).toContain("up to date");
    cluster.psql(`CREATE ROLE ${name}_worker LOGIN IN ROLE resonate_worker`, name);
    return cluster.url(name, `${name}_worker`);
  }

  it("lists every job through every replica, its dashboard and the CLI, makes one upstream request per job, and hands a SIGKILLed replica's jobs to the survivors within 5 s", async () => {
    const store = await database("shared");
    const fake: FakeOpenMeteo = await startFakeOpenMeteo();
    cleanup.push(() => fake.close());
    const three = await replicas(store, fake.url, 3);
    // Every job stays in flight while the listing is checked, and is answered within the client's 15 s timeout.
    fake.setLatency(12_000);
    const names: string[] = [];
    const starters: Replica[] = [];
    for (let month = 1; month <= 6; month++) {
      starters.push(three[month % 3] as Replica);
      names.push(await start(three[month % 3] as Replica, month));
    }
    // The same arguments through another replica: the same job.
    expect(await start(three[2] as Replica, 1)).toBe(names[0]);
    await expect.poll(() => fake.requests()).toBe(6);

    for (const replica of three) {
      const probed = structured<Jobs>(await replica.call("probe_status", { job_names: names }));
      expect(probed.jobs.map((job) => job.status)).toEqual(Array(6).fill("working"));
      const page = await (await fetch(new URL("/jobs", replica.url))).text();
      for (const name of names) expect(page).toContain(name);
    }
    const listed = await cli(MAIN, store, "jobs", "list", "--json");
    expect(listed.code, listed.stderr).toBe(0);
    const listedIds = (JSON.parse(listed.stdout) as { jobs: { jobId: string }[] }).jobs.map(
      (job) => job.jobId,
    );
    for (const name of names) expect(listedIds.join(" ")).toContain(name);

    // Kill the replica running the most jobs (each is waiting on the upstream): the survivors ask again.
    const runners = names.map((name, i) => runnerOf(three, starters[i] as Replica, name));
    const victim = three.reduce((most, r) =>
      runners.filter((x) => x === r).length > runners.filter((x) => x === most).length ? r : most,
    );
    const lost = runners.filter((r) => r === victim).length;
    expect(lost).toBeGreaterThan(0);
    fake.setLatency(0);
    await victim.kill();
    const killedAt = Date.now();
    await expect.poll(() => fake.requests(), { interval: 20 }).toBeGreaterThan(6);
    const tookMs = Date.now() - killedAt;
    console.info(
      `weather on postgres: a SIGKILLed replica's job was asked upstream again ${tookMs} ms later`,
    );
    expect(tookMs).toBeLessThan(budget(5_000));
    const survivors = three.filter((r) => r !== victim);
    const jobs = await awaitDone(survivors[0] as Replica, names);
    expect(jobs.map((job) => job.status)).toEqual(Array(6).fill("completed"));
    // The killed replica's jobs ran upstream twice, every other job exactly once.
    expect(fake.requests()).toBe(6 + lost);
    names.forEach((name, i) => {
      const expected = runners[i] === victim ? 2 : 1;
      expect(fake.requestsFor({ start_date: `2024-0${i + 1}-01` }), name).toBe(expected);
    });
    expect((await awaitDone(survivors[1] as Replica, names)).length).toBe(6);
  });

  it("stops the upstream request of a job cancelled through another replica", async () => {
    const store = await database("cancel");
    const fake: FakeOpenMeteo = await startFakeOpenMeteo({ latencyMs: 600_000 });
    cleanup.push(() => fake.close());
    const three = await replicas(store, fake.url, 3);
    const starter = three[0] as Replica;
    const name = await start(starter, 7);
    const july = { start_date: "2024-07-01" };
    await expect.poll(() => fake.requestsFor(july)).toBe(1);
    const runner = runnerOf(three, starter, name);
    const other = three.find((r) => r !== runner) as Replica;
    const cancelled = structured<{ jobs: { status: string }[] }>(
      await other.call("cancel_gathering", { job_names: [name] }),
    );
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    await expect.poll(() => fake.droppedFor(july)).toBe(1);
    expect(fake.requestsFor(july)).toBe(1);
    const probed = structured<Jobs>(await runner.call("probe_status", { job_names: [name] }));
    expect(probed.jobs[0]?.status).toBe("cancelled");
  });
});
