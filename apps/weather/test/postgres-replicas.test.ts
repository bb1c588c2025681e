/**
 * Three weather `--http` replicas on one Postgres store (a throwaway cluster of Debian's PostgreSQL), run as a
 * least-privilege worker role after `store init` as the owner, each against a fake Open-Meteo of its own: every replica, its
 * dashboard and the CLI list every job; the same arguments through two replicas make one job and one upstream
 * request; a SIGKILLed replica's jobs go to the survivors within 5 s; a cancel through another replica stops
 * the running replica's upstream request. Skipped, in one line, where PostgreSQL cannot be started.
 */
import { join } from "node:path";
import { budget } from "@async-tools/test-helpers/budgets";
import { structured } from "@async-tools/test-helpers/mcp";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { type Run, runProcess } from "@async-tools/test-helpers/run-process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startHttpServer } from "./harness.ts";
import { type FakeOpenMeteo, startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

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

/**
 * Three replicas on `store`, each with a fake Open-Meteo of its own: Resonate hands a job to any replica, and
 * the fake that a job's request reaches names the replica running it.
 */
async function replicas(
  store: string,
  latencyMs: number,
): Promise<{ replica: Replica; fake: FakeOpenMeteo }[]> {
  const started: { replica: Replica; fake: FakeOpenMeteo }[] = [];
  for (let i = 0; i < 3; i++) {
    const fake = await startFakeOpenMeteo({ latencyMs });
    cleanup.push(() => fake.close());
    const replica = await startHttpServer(store, fake.url);
    cleanup.push(() => replica.close());
    started.push({ replica, fake });
  }
  return started;
}

const monthOf = (month: number) => ({ start_date: `2024-${String(month).padStart(2, "0")}-01` });

async function start(replica: Replica, month: number): Promise<string> {
  return structured<{ job_name: string }>(await replica.call("start_gathering", { ...place, month }))
    .job_name;
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
    // Every job stays in flight while the listing is checked, and is answered within the client's 15 s timeout.
    const rig = await replicas(store, 12_000);
    const three = rig.map((r) => r.replica);
    const requests = () => rig.reduce((sum, r) => sum + r.fake.requests(), 0);
    const names: string[] = [];
    for (let month = 1; month <= 6; month++) names.push(await start(three[month % 3] as Replica, month));
    // The same arguments through another replica: the same job.
    expect(await start(three[2] as Replica, 1)).toBe(names[0]);
    await expect.poll(requests).toBe(6);

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

    // Kill the replica running the most jobs (each waiting on its upstream): the survivors ask theirs again.
    const victim = rig.reduce((most, r) => (r.fake.requests() > most.fake.requests() ? r : most));
    const lost = names.map((_name, i) => victim.fake.requestsFor(monthOf(i + 1)) > 0);
    for (const r of rig) r.fake.setLatency(0);
    await victim.replica.kill();
    const killedAt = Date.now();
    await expect.poll(requests, { interval: 20 }).toBeGreaterThan(6);
    const tookMs = Date.now() - killedAt;
    console.info(
      `weather on postgres: a SIGKILLed replica's job was asked upstream again ${tookMs} ms later`,
    );
    expect(tookMs).toBeLessThan(budget(5_000));
    const survivors = three.filter((r) => r !== victim.replica);
    const jobs = await awaitDone(survivors[0] as Replica, names);
    expect(jobs.map((job) => job.status)).toEqual(Array(6).fill("completed"));
    // The killed replica's jobs ran upstream twice, every other job exactly once.
    names.forEach((name, i) => {
      const asked = rig.reduce((sum, r) => sum + r.fake.requestsFor(monthOf(i + 1)), 0);
      expect(asked, name).toBe(lost[i] ? 2 : 1);
    });
    expect((await awaitDone(survivors[1] as Replica, names)).length).toBe(6);
  });

  it("stops the upstream request of a job cancelled through another replica", async () => {
    const store = await database("cancel");
    const rig = await replicas(store, 600_000);
    const starter = rig[0]?.replica as Replica;
    const name = await start(starter, 7);
    const july = monthOf(7);
    await expect.poll(() => rig.filter((r) => r.fake.requestsFor(july) === 1).length).toBe(1);
    const running = rig.find((r) => r.fake.requestsFor(july) === 1) as (typeof rig)[number];
    const runner = running.replica;
    const other = rig.find((r) => r !== running)?.replica as Replica;
    const cancelled = structured<{ jobs: { status: string }[] }>(
      await other.call("cancel_gathering", { job_names: [name] }),
    );
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    await expect.poll(() => running.fake.droppedFor(july)).toBe(1);
    expect(rig.reduce((sum, r) => sum + r.fake.requestsFor(july), 0)).toBe(1);
    const probed = structured<Jobs>(await runner.call("probe_status", { job_names: [name] }));
    expect(probed.jobs[0]?.status).toBe("cancelled");
  });
});
