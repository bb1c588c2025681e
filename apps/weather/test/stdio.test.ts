import { errorText, structured } from "@async-tools/test-helpers/mcp";
import { must } from "@async-tools/test-helpers/must";
import { describe, expect, it } from "vitest";
import { type RunningServer, stdioRigs } from "./harness.ts";

interface Job {
  job_name: string;
  status: string;
  error?: string;
  result?: { days: unknown[]; summary: { days: number; temperature_mean_c: number | null } };
}

const setup = stdioRigs();

const calgary = { latitude: 51.05, longitude: -114.07, year: 2024, month: 1 };
const edmonton = { latitude: 53.55, longitude: -113.49, year: 2024, month: 1 };

async function awaitAll(server: RunningServer, names: string[]): Promise<Job[]> {
  for (;;) {
    const out = structured<{ jobs: Job[]; done: boolean }>(
      await server.call("await_result", { job_names: names, timeout_seconds: 20 }),
    );
    if (out.done) return out.jobs;
  }
}

describe("the weather server over stdio", () => {
  it("gathers a month and answers with the daily series and a summary", async () => {
    const { start } = await setup();
    const server = await start();
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "await_result",
      "cancel_gathering",
      "probe_status",
      "respond_gathering",
      "start_gathering",
      "weather_data",
    ]);
    const started = structured<{ job_name: string }>(await server.call("start_gathering", calgary));
    const [job] = await awaitAll(server, [started.job_name]);
    expect(job?.status).toBe("completed");
    expect(job?.result?.days).toHaveLength(31);
    expect(job?.result?.summary.days).toBe(31);
    expect(typeof job?.result?.summary.temperature_mean_c).toBe("number");
  });

  it("calls the upstream once per distinct job: 4 starts of 2 jobs make 2 requests", async () => {
    const { fake, start } = await setup({ latencyMs: 300 });
    const server = await start();
    const results = await Promise.all(
      [calgary, edmonton, { ...calgary }, { month: 1, year: 2024, longitude: -113.49, latitude: 53.55 }].map(
        (args) => server.call("start_gathering", args),
      ),
    );
    const names = results.map((r) => structured<{ job_name: string }>(r).job_name);
    expect(new Set(names).size).toBe(2);
    const jobs = await awaitAll(server, [...new Set(names)]);
    expect(jobs.every((j) => j.status === "completed")).toBe(true);
    expect(fake.requests()).toBe(2);
  });

  it("makes one job of UTC, Etc/UTC and utc, asking the upstream once", async () => {
    const { fake, start } = await setup();
    const server = await start();
    const names = [];
    for (const timezone of ["UTC", "Etc/UTC", "utc"]) {
      names.push(
        structured<{ job_name: string }>(await server.call("start_gathering", { ...calgary, timezone }))
          .job_name,
      );
    }
    expect(new Set(names).size).toBe(1);
    const [job] = await awaitAll(server, [must(names[0], "the first job_name")]);
    expect(job?.status).toBe("completed");
    expect(fake.requests()).toBe(1);
    expect(fake.requestsFor({ timezone: "UTC" })).toBe(1);
  });

  it("counts days in the place's own time zone unless told otherwise, and lists that default", async () => {
    const { fake, start } = await setup();
    const server = await start();
    const { tools } = await server.client.listTools();
    const input = must(
      tools.find((tool) => tool.name === "start_gathering"),
      "the start_gathering tool",
    ).inputSchema;
    const properties = input.properties as Record<string, Record<string, unknown>>;
    expect(properties.timezone).toMatchObject({ type: "string", default: "auto" });
    expect(input.required).toEqual(["latitude", "longitude", "year", "month"]);
    const { job_name } = structured<{ job_name: string }>(await server.call("start_gathering", calgary));
    const [job] = await awaitAll(server, [job_name]);
    expect(fake.requestsFor({ timezone: "auto" })).toBe(1);
    expect(job?.result).toMatchObject({ location: { timezone: "Etc/GMT+8" } });
  });

  it("answers bad arguments with a clear tool error and stays up", async () => {
    const { start } = await setup();
    const server = await start();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...calgary, month: 13 }, /month/],
      [{ ...calgary, latitude: "north" }, /latitude/],
      [{ ...calgary, latitude: 951 }, /latitude/],
      [{ latitude: 51 }, /longitude/],
      [{ ...calgary, year: 2999 }, /month|year/],
      [{ ...calgary, timezone: "Mars/Olympus" }, /timezone/],
    ];
    for (const [args, pattern] of cases)
      expect(errorText(await server.call("start_gathering", args))).toMatch(pattern);
    expect(structured<{ status: string }>(await server.call("start_gathering", calgary)).status).toBe(
      "working",
    );
  });

  it("quotes only the start of a long bad value, and keeps the year in the year message", async () => {
    const { start } = await setup();
    const server = await start();
    const long = errorText(
      await server.call("start_gathering", { ...calgary, timezone: `Europe/${"x".repeat(10_000)}` }),
    );
    expect(long).toMatch(/timezone "Europe\/x+… is not an IANA time zone name/);
    expect(long.length).toBeLessThan(400);
    expect(errorText(await server.call("start_gathering", { ...calgary, year: 1000 }))).toContain(
      "year must be 1940 or later, got 1000",
    );
  });

  it("retries an upstream 503 twice and then completes", async () => {
    const { fake, start } = await setup({ script: [{ status: 503 }, { status: 503 }] });
    const server = await start();
    const { job_name } = structured<{ job_name: string }>(await server.call("start_gathering", calgary));
    const [job] = await awaitAll(server, [job_name]);
    expect(job?.status).toBe("completed");
    expect(fake.requests()).toBe(3);
  });

  it("fails the job with Open-Meteo's reason on a 400, without retrying", async () => {
    const { fake, start } = await setup({
      script: [{ status: 400, reason: "Parameter 'latitude' is out of range" }],
    });
    const server = await start();
    const { job_name } = structured<{ job_name: string }>(await server.call("start_gathering", calgary));
    const [job] = await awaitAll(server, [job_name]);
    expect(job).toMatchObject({ status: "failed", error: expect.stringContaining("out of range") });
    expect(fake.requests()).toBe(1);
  });

  it("finishes every job under its original name after a SIGKILL mid-gather", async () => {
    const { fake, start } = await setup({ latencyMs: 2000 });
    const first = await start();
    const places = [calgary, edmonton, { ...calgary, month: 2 }, { ...edmonton, month: 2 }];
    const names: string[] = [];
    for (const place of places) {
      names.push(structured<{ job_name: string }>(await first.call("start_gathering", place)).job_name);
    }
    await expect.poll(() => fake.requests()).toBe(4);
    await first.kill();
    const restarted = Date.now();
    const second = await start();
    const probed = structured<{ jobs: Job[] }>(await second.call("probe_status", { job_names: names }));
    expect(probed.jobs.map((j) => j.status)).toEqual(["working", "working", "working", "working"]);
    fake.setLatency(0);
    const jobs = await awaitAll(second, names);
    expect(jobs.map((j) => j.job_name)).toEqual(names);
    expect(jobs.every((j) => j.status === "completed")).toBe(true);
    expect(Date.now() - restarted).toBeLessThan(15_000);
    // Each unfinished fetch ran again once after the crash; nothing ran a third time.
    expect(fake.requests()).toBe(8);
  });
});
