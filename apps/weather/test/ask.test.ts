import { join } from "node:path";
import { CHROMIUM, HAS_CHROMIUM, useChromium } from "@async-tools/test-helpers/browser";
import { budget } from "@async-tools/test-helpers/budgets";
import { structured } from "@async-tools/test-helpers/mcp";
import { runProcess } from "@async-tools/test-helpers/run-process";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningServer, startHttpServer, startStdio, stdioRigs } from "./harness.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const OUT = join(import.meta.dirname, "..", "test-output", "ask");

interface Job {
  job_name: string;
  status: string;
  error?: string;
  questions?: { id: string; kind: string; request: { message: string } }[];
  result?: { gathered?: { year: number; month: number }[] };
}

/** Calgary and six more places over December 2023 and January 2024: 7 places × 2 years = 14 requests. */
const SEVEN_PLACES = {
  latitude: 51.05,
  longitude: -114.07,
  year: 2023,
  month: 12,
  months: 2,
  places: [1, 2, 3, 4, 5, 6].map((i) => ({ latitude: 50 + i, longitude: -110 + i })),
};
const REQUESTS = 14;
const MESSAGE = "This is 14 requests to Open-Meteo (7 places, 2 months, 2023-12 to 2024-01), continue?";

const setup = stdioRigs();
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Polls `probe_status` through `server` until the job is in `status` (or finished otherwise, shown whole). */
async function probeUntil(server: RunningServer, name: string, status: string): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        [job] = structured<{ jobs: Job[] }>(await server.call("probe_status", { job_names: [name] })).jobs;
        return job?.status === status || ["completed", "failed", "cancelled"].includes(job?.status ?? "");
      },
      { timeout: budget(60_000), interval: 200 },
    )
    .toBe(true);
  expect(job?.status, JSON.stringify(job)).toBe(status);
  return job as Job;
}

/** The result of the finished job `name`, through `await_result`. */
async function resultOf(server: RunningServer, name: string): Promise<Job> {
  const [job] = structured<{ jobs: Job[] }>(
    await server.call("await_result", { job_names: [name], timeout_seconds: 10 }),
  ).jobs;
  return job as Job;
}

/**
 * Starts the 14-request gathering on a first server, sees it ask through probe_status with no request made,
 * SIGKILLs that server, and starts it again on the same store: `restart` chooses how.
 */
async function askThenCrash<S extends RunningServer>(
  restart: (store: string, archiveUrl: string) => Promise<S>,
) {
  const rig = await setup();
  const first = await rig.start();
  const { job_name } = structured<{ job_name: string }>(await first.call("start_gathering", SEVEN_PLACES));
  const asking = await probeUntil(first, job_name, "input_required");
  expect(asking.questions).toEqual([
    expect.objectContaining({
      id: `${job_name}/confirm`,
      kind: "elicitation",
      request: expect.objectContaining({ message: MESSAGE }),
    }),
  ]);
  expect(rig.fake.requests()).toBe(0);
  await first.kill();

  const second = await restart(rig.store, rig.fake.url);
  cleanup.push(() => second.close());
  const probed = await probeUntil(second, job_name, "input_required");
  expect(probed.questions?.map((q) => q.id)).toEqual([`${job_name}/confirm`]);
  expect(rig.fake.requests()).toBe(0);
  return { ...rig, jobName: job_name, server: second };
}

/** `jobs show --json` through the weather bin: a process of its own on the store. */
async function stepsOf(store: string, jobName: string): Promise<{ name: string; attempts: unknown[] }[]> {
  const shown = await runProcess(
    process.execPath,
    ["--conditions=@async-tools/source", MAIN, "jobs", "show", jobName, "--store", store, "--json"],
    { timeoutMs: budget(60_000) },
  );
  expect(shown.code, shown.stderr).toBe(0);
  return (JSON.parse(shown.stdout) as { steps: { name: string; attempts: unknown[] }[] }).steps;
}

/** The job finished with all 14 requests made once each, and every step ran once despite the SIGKILL. */
async function expectGatheredOnce(
  rig: { store: string; fake: { requests(): number }; server: RunningServer },
  jobName: string,
) {
  const job = await resultOf(rig.server, jobName);
  expect(job.result?.gathered).toHaveLength(REQUESTS);
  expect(rig.fake.requests()).toBe(REQUESTS);
  const steps = await stepsOf(rig.store, jobName);
  const fetches = steps.filter((s) => s.name.startsWith("fetch "));
  expect(fetches.map((s) => s.name)).toEqual(
    Array.from({ length: REQUESTS }, (_, i) => `fetch ${i + 1} of ${REQUESTS}`),
  );
  expect(steps.find((s) => s.name === "count requests")).toBeDefined();
  for (const step of steps) expect(step.attempts, step.name).toHaveLength(1);
}

describe("a weather job that asks before many requests, across a SIGKILL", () => {
  it("takes the answer through respond_gathering of the restarted server and makes exactly its requests", async () => {
    const rig = await askThenCrash((store, url) => startStdio(store, url));
    const hint = await rig.server.call("probe_status", { job_names: [rig.jobName] });
    expect(JSON.stringify(hint.content)).toContain(
      `call respond_gathering with {\\"job_name\\": \\"${rig.jobName}\\"`,
    );

    const wrong = await rig.server.call("respond_gathering", {
      job_name: rig.jobName,
      answer: { action: "accept", content: {} },
    });
    expect(wrong.isError).toBe(true);
    expect(rig.fake.requests()).toBe(0);
    const ok = await rig.server.call("respond_gathering", {
      job_name: rig.jobName,
      answer: { action: "accept", content: { proceed: true } },
    });
    expect(ok.isError).toBeFalsy();
    await probeUntil(rig.server, rig.jobName, "completed");
    await expectGatheredOnce(rig, rig.jobName);
  });

  it("gathers without asking when --confirm-above allows the requests", async () => {
    const rig = await setup();
    const server = await rig.start(["--confirm-above", String(REQUESTS)]);
    const { job_name } = structured<{ job_name: string }>(await server.call("start_gathering", SEVEN_PLACES));
    await probeUntil(server, job_name, "completed");
    expect(rig.fake.requests()).toBe(REQUESTS);
  });

  it("ends with a clear error and no request when the operator declines through the weather bin", async () => {
    const rig = await askThenCrash((store, url) => startStdio(store, url));
    const answered = await runProcess(
      process.execPath,
      [
        "--conditions=@async-tools/source",
        MAIN,
        "jobs",
        "answer",
        rig.jobName,
        "--store",
        rig.store,
        "--json",
        JSON.stringify({ action: "decline" }),
      ],
      { timeoutMs: budget(60_000) },
    );
    expect(answered.code, answered.stderr).toBe(0);
    const done = await probeUntil(rig.server, rig.jobName, "failed");
    expect(done.error).toContain("need the user's confirmation, and they declined, so none was made");
    expect(rig.fake.requests()).toBe(0);
  });
});

const browser = useChromium(OUT);

describe.skipIf(!HAS_CHROMIUM)(`the question on the dashboard in Chromium (${CHROMIUM})`, () => {
  it("answers a big gathering's question from the job's page after a SIGKILL, and the job completes", async () => {
    const rig = await askThenCrash((store, url) => startHttpServer(store, url));
    const page = await browser().newPage({
      viewport: { width: 1100, height: 900 },
    });
    cleanup.push(() => page.close());
    const jobPage = new URL(`/jobs/job/${encodeURIComponent(rig.jobName)}`, rig.server.url).href;
    await page.goto(jobPage);
    const question = page.locator("section.question");
    expect(await question.locator("p").first().textContent()).toBe(MESSAGE);
    await question.locator('input[name="field:proceed"]').check();
    await page.screenshot({ path: join(OUT, "question.png"), fullPage: true });
    expect(rig.fake.requests()).toBe(0);

    await question.getByRole("button", { name: "Submit" }).click();
    await probeUntil(rig.server, rig.jobName, "completed");
    await expect.poll(() => page.locator("pre.result").count(), { timeout: budget(30_000) }).toBe(1);
    expect(await page.locator("section.question").count()).toBe(0);
    await page.screenshot({ path: join(OUT, "answered.png"), fullPage: true });
    await expectGatheredOnce(rig, rig.jobName);
  });
});
