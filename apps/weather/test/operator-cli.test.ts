/**
 * The operator's commands of the weather bin (`async-tools-weather jobs …`, `store info`): they find the
 * server's own default store, `async-tools/async-tools-weather/jobs.db` under the user data directory, so an
 * operator never needs its path; `--help` prints that same path.
 */
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { type Run, runProcess } from "@async-tools/test-helpers/run-process";
import { tempDir } from "@async-tools/test-helpers/temp";
import { afterEach, describe, expect, it } from "vitest";
import { startStdio } from "./harness.ts";
import { type FakeOpenMeteo, startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The weather command line with the user data directory `dataHome` and no store named anywhere. */
function cli(dataHome: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: dataHome };
  delete env.ASYNC_TOOLS_STORE;
  delete env.RESONATE_URL;
  return runProcess(process.execPath, ["--conditions=@async-tools/source", MAIN, ...args], { env });
}

/** A data directory whose default weather store holds one finished job; returns it and the job's name. */
async function storeWithOneJob(): Promise<{ dataHome: string; jobName: string; storeFile: string }> {
  const dir = tempDir("weather");
  const fake: FakeOpenMeteo = await startFakeOpenMeteo();
  cleanup.push(
    () => dir[Symbol.dispose](),
    () => fake.close(),
  );
  const storeFile = join(dir.path, "async-tools", "async-tools-weather", "jobs.db");
  const server = await startStdio(`sqlite:${storeFile}`, fake.url);
  cleanup.push(() => server.close());
  const { job_name } = structured<{ job_name: string }>(
    await server.call("start_gathering", { latitude: 51.05, longitude: -114.07, year: 2024, month: 1 }),
  );
  const done = structured<{ done: boolean }>(
    await server.call("await_result", { job_names: [job_name], timeout_seconds: 30 }),
  );
  expect(done.done).toBe(true);
  await server.close();
  return { dataHome: dir.path, jobName: job_name, storeFile };
}

describe("async-tools-weather's operator commands", () => {
  it("lists and shows the jobs of the server's default store with no --store", async () => {
    const { dataHome, jobName } = await storeWithOneJob();

    const list = await cli(dataHome, "jobs", "list", "--json");
    expect(list.code).toBe(0);
    const { jobs } = JSON.parse(list.stdout) as { jobs: { jobId: string; status: string }[] };
    expect(jobs.map((job) => job.status)).toEqual(["completed"]);

    const show = await cli(dataHome, "jobs", "show", jobName);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(jobName);
  });

  it("names the default store in store info and in --help, the same path", async () => {
    const { dataHome, storeFile } = await storeWithOneJob();

    const info = await cli(dataHome, "store", "info", "--json");
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ path: storeFile, jobs: { total: 1 } });

    const help = await cli(dataHome, "--help");
    expect(help.stdout).toContain(storeFile);
    expect(help.stdout).toContain("async-tools-weather jobs list");
  });

  it("gives its own name in the jobs usage, and exit 2 for an unknown jobs command", async () => {
    const dir = tempDir("weather");
    cleanup.push(() => dir[Symbol.dispose]());
    const usage = await cli(dir.path, "jobs", "--help");
    expect(usage.code).toBe(0);
    expect(usage.stdout).toContain("Usage: async-tools-weather jobs <command>");
    expect(usage.stdout).not.toMatch(/async-tools jobs/);

    const unknown = await cli(dir.path, "jobs", "explode");
    expect(unknown.code).toBe(2);
  });
});
