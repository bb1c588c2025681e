/**
 * The weather server as real child processes sharing one store, against a fake Open-Meteo on loopback:
 * two stdio servers on one file (the second joins the first), and three HTTP replicas on one
 * `async-tools store serve`. Upstream request counts prove one execution per job outside the kills.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type HttpChild,
  type StdioChild,
  startHttpChild,
  startStdioChild,
} from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";
import {
  type FakeOpenMeteo,
  startFakeOpenMeteo,
} from "../../../apps/weather/test/support/fake-open-meteo.ts";
import { startStoreServe } from "./helpers.ts";

const WEATHER = join(import.meta.dirname, "..", "..", "..", "apps", "weather", "src", "main.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Job {
  job_name: string;
  status: string;
}
type Jobs = { jobs: Job[]; done: boolean };

const place = { latitude: 51.05, longitude: -114.07, year: 2024 };

async function rig(): Promise<{ dir: string; fake: FakeOpenMeteo }> {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-weather-multi-"));
  const fake = await startFakeOpenMeteo();
  cleanup.push(
    () => rmSync(dir, { recursive: true, force: true }),
    () => fake.close(),
  );
  return { dir, fake };
}

async function awaitDone(
  server: { data<T>(n: string, a: Record<string, unknown>): Promise<T> },
  names: string[],
) {
  let out: Jobs = { jobs: [], done: false };
  await expect
    .poll(async () => {
      out = await server.data<Jobs>("await_result", { job_names: names, timeout_seconds: 5 });
      return out.done;
    })
    .toBe(true);
  return out.jobs;
}

describe("weather servers sharing one store", () => {
  it("runs two stdio servers on one file: one job per arguments, each sees the other's, and the joiner finishes the jobs of a SIGKILLed owner", async () => {
    const { dir, fake } = await rig();
    const env = {
      ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`,
      OPEN_METEO_ARCHIVE_URL: fake.url,
      WEATHER_RETRY_INITIAL_MS: "100",
    };
    const started: StdioChild[] = [];
    const start = async () => {
      const child = await startStdioChild(WEATHER, { env: env });
      started.push(child);
      cleanup.push(async () => {
        await child.close();
      });
      return child;
    };
    const owner = await start();
    const joiner = await start();

    fake.setLatency(300);
    const [a, b] = await Promise.all([
      owner.data<{ job_name: string }>("start_gathering", { ...place, month: 1 }),
      joiner.data<{ job_name: string }>("start_gathering", { ...place, month: 1 }),
    ]);
    expect(a.job_name).toBe(b.job_name);
    const other = await joiner.data<{ job_name: string }>("start_gathering", { ...place, month: 2 });
    expect((await awaitDone(owner, [a.job_name, other.job_name])).map((j) => j.status)).toEqual([
      "completed",
      "completed",
    ]);
    expect((await awaitDone(joiner, [a.job_name])).map((j) => j.status)).toEqual(["completed"]);
    expect(fake.requests()).toBe(2);

    // Three jobs in flight on the owner, each waiting on a slow upstream, when it is killed.
    fake.setLatency(10_000);
    const months = [3, 4, 5];
    const names: string[] = [];
    for (const month of months) {
      names.push((await owner.data<{ job_name: string }>("start_gathering", { ...place, month })).job_name);
    }
    await expect.poll(() => fake.requests()).toBe(5);
    const probed = await joiner.data<Jobs>("probe_status", { job_names: names });
    expect(probed.jobs.map((j) => j.status)).toEqual(["working", "working", "working"]);
    fake.setLatency(0);
    await owner.kill();
    const jobs = await awaitDone(joiner, names);
    expect(jobs.map((j) => j.status)).toEqual(["completed", "completed", "completed"]);
    for (const month of months) {
      // Once before the kill, once more after it: the kill explains one repeat per job in flight.
      expect(fake.requestsFor({ start_date: `2024-0${month}-01` }), `month ${month}`).toBeLessThanOrEqual(2);
    }
    expect(joiner.stderr()).toMatch(/store taken over from a dead owner/);
  });

  it("runs three HTTP replicas on one store serve: round-robin starts and awaits all complete after a replica is SIGKILLed mid-job", async () => {
    const { dir, fake } = await rig();
    const { url } = await startStoreServe(join(dir, "jobs.db"), "replica-token", cleanup);
    const env = {
      ASYNC_TOOLS_STORE: url,
      ASYNC_TOOLS_STORE_TOKEN: "replica-token",
      OPEN_METEO_ARCHIVE_URL: fake.url,
      WEATHER_RETRY_INITIAL_MS: "100",
    };
    const replicas: HttpChild[] = [];
    for (let i = 0; i < 3; i++) {
      const replica = await startHttpChild(WEATHER, { env: env });
      replicas.push(replica);
      cleanup.push(() => replica.close());
    }
    fake.setLatency(1500);
    const names: string[] = [];
    for (let month = 1; month <= 6; month++) {
      const replica = replicas[month % 3] as HttpChild;
      names.push((await replica.data<{ job_name: string }>("start_gathering", { ...place, month })).job_name);
    }
    await expect.poll(() => fake.requests()).toBe(6);
    await replicas[0]?.kill();
    fake.setLatency(0);
    const survivors = replicas.slice(1);
    const jobs = await awaitDone(survivors[0] as HttpChild, names);
    expect(jobs.map((j) => j.status)).toEqual(Array(6).fill("completed"));
    // Replica 0 had two jobs in flight (months 3 and 6): only those may run twice.
    expect(fake.requests()).toBeLessThanOrEqual(8);
    for (const month of [1, 2, 4, 5]) expect(fake.requestsFor({ start_date: `2024-0${month}-01` })).toBe(1);
    expect((await awaitDone(survivors[1] as HttpChild, names)).length).toBe(6);
  });

  it("runs a new user's server and the weather server side by side on default settings, each on its own store", async () => {
    const { dir, fake } = await rig();
    const env = { XDG_DATA_HOME: dir, OPEN_METEO_ARCHIVE_URL: fake.url };
    const newcomer = await startStdioChild(join(import.meta.dirname, "fixtures", "steps-server.ts"), {
      env: { ...env, STEP2_MS: "0" },
    });
    cleanup.push(() => newcomer.close());
    const weather = await startStdioChild(WEATHER, { env: env });
    cleanup.push(() => weather.close());
    // Logged before the MCP handshake, but stderr is a separate pipe: its bytes may come a moment later.
    await expect.poll(() => newcomer.stderr()).toMatch(/store opened.* role=owner/);
    await expect.poll(() => weather.stderr()).toMatch(/store opened.* role=owner/);
    expect(newcomer.stderr()).toContain(`store=sqlite:${join(dir, "async-tools", "jobs.db")}`);
    expect(weather.stderr()).toContain(
      `store=sqlite:${join(dir, "async-tools", "async-tools-weather", "jobs.db")}`,
    );
    const steps = await newcomer.data<{ job_id: string }>("start_steps", { n: 1 });
    const gathering = await weather.data<{ job_name: string }>("start_gathering", { ...place, month: 7 });
    const [stepsDone, weatherDone] = await Promise.all([
      newcomer.data<{ done: boolean }>("await_steps", { job_ids: [steps.job_id], timeout_seconds: 20 }),
      awaitDone(weather, [gathering.job_name]),
    ]);
    expect(stepsDone.done).toBe(true);
    expect(weatherDone.map((job) => job.status)).toEqual(["completed"]);
  });
});
