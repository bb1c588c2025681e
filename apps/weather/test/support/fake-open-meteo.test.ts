/**
 * Tests for the fake Open-Meteo archive: plausible, deterministic data, the real archive's validation and
 * error shape, scripted failures, latency, request counts, clean shutdown and the standalone entry point.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { must } from "@async-tools/test-helpers/must";
import { describe, expect, it } from "vitest";
import { type FakeOpenMeteo, startFakeOpenMeteo } from "./fake-open-meteo.ts";

interface Daily {
  time: string[];
  temperature_2m_max: (number | null)[];
  temperature_2m_min: (number | null)[];
  precipitation_sum: (number | null)[];
}

interface ArchiveAnswer {
  status: number;
  body: {
    error?: boolean;
    reason?: string;
    latitude?: number;
    longitude?: number;
    timezone?: string;
    utc_offset_seconds?: number;
    daily_units?: Record<string, string>;
    daily?: Daily;
  };
}

const month = {
  latitude: "53.55",
  longitude: "-113.49",
  start_date: "2024-01-01",
  end_date: "2024-01-31",
  daily: "temperature_2m_max,temperature_2m_min,precipitation_sum",
  timezone: "America/Edmonton",
};

async function ask(fake: FakeOpenMeteo, params: Record<string, string>): Promise<ArchiveAnswer> {
  const url = new URL(fake.url);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as ArchiveAnswer["body"] };
}

async function daily(fake: FakeOpenMeteo, params: Record<string, string>): Promise<Daily> {
  const { status, body } = await ask(fake, params);
  expect(status).toBe(200);
  return must(body.daily, "a daily block in the answer");
}

function mean(values: (number | null)[]): number {
  const numbers = values.filter((value) => value !== null);
  return numbers.reduce((sum, value) => sum + value, 0) / numbers.length;
}

describe("the fake archive's data", () => {
  it("answers a month in Open-Meteo's shape", async () => {
    await using fake = await startFakeOpenMeteo();
    const { status, body } = await ask(fake, month);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      latitude: 53.6,
      longitude: -113.5,
      timezone: "America/Edmonton",
      utc_offset_seconds: -7 * 3600,
      daily_units: {
        time: "iso8601",
        temperature_2m_max: "°C",
        temperature_2m_min: "°C",
        precipitation_sum: "mm",
      },
    });
    const days = must(body.daily, "a daily block in the answer");
    expect(days.time).toHaveLength(31);
    expect(days.time[0]).toBe("2024-01-01");
    expect(days.time[30]).toBe("2024-01-31");
    for (let i = 0; i < 31; i++) {
      const max = days.temperature_2m_max[i];
      const min = days.temperature_2m_min[i];
      if (typeof max !== "number" || typeof min !== "number") {
        throw new Error(`day ${i}: expected both temperatures, got max ${max} and min ${min}`);
      }
      expect(max).toBeGreaterThan(min);
      expect(days.precipitation_sum[i]).toBeGreaterThanOrEqual(0);
      expect(Math.round(max * 10) / 10).toBe(max);
    }
  });

  it("gives the same numbers for the same place and date, whatever the range asked", async () => {
    await using fake = await startFakeOpenMeteo();
    const january = await daily(fake, month);
    expect(await daily(fake, month)).toEqual(january);
    const mid = await daily(fake, { ...month, start_date: "2024-01-10", end_date: "2024-01-12" });
    expect(mid.temperature_2m_max).toEqual(january.temperature_2m_max.slice(9, 12));
    expect(mid.precipitation_sum).toEqual(january.precipitation_sum.slice(9, 12));
  });

  it("follows the seasons, opposite in the southern hemisphere and faint at the equator", async () => {
    await using fake = await startFakeOpenMeteo();
    const monthMean = async (latitude: string, longitude: string, start: string, end: string) =>
      mean(
        (
          await daily(fake, {
            ...month,
            latitude,
            longitude,
            start_date: start,
            end_date: end,
            timezone: "GMT",
          })
        ).temperature_2m_max,
      );
    const north = {
      january: await monthMean("53.55", "-113.49", "2023-01-01", "2023-01-31"),
      july: await monthMean("53.55", "-113.49", "2023-07-01", "2023-07-31"),
    };
    const south = {
      january: await monthMean("-33.87", "151.21", "2023-01-01", "2023-01-31"),
      july: await monthMean("-33.87", "151.21", "2023-07-01", "2023-07-31"),
    };
    const equator = {
      january: await monthMean("1.35", "103.82", "2023-01-01", "2023-01-31"),
      july: await monthMean("1.35", "103.82", "2023-07-01", "2023-07-31"),
    };
    expect(north.july - north.january).toBeGreaterThan(10);
    expect(south.january - south.july).toBeGreaterThan(5);
    expect(Math.abs(equator.january - equator.july)).toBeLessThan(3);
    expect(equator.january).toBeGreaterThan(25);
  });

  it("has dry days between wet spells", async () => {
    await using fake = await startFakeOpenMeteo();
    const year = await daily(fake, { ...month, start_date: "2023-01-01", end_date: "2023-12-31" });
    const dry = year.precipitation_sum.filter((mm) => mm === 0).length / year.time.length;
    expect(dry).toBeGreaterThan(0.4);
    expect(dry).toBeLessThan(0.9);
    expect(Math.max(...(year.precipitation_sum as number[]))).toBeGreaterThan(5);
  });

  it("counts days in the requested timezone, which shifts the numbers", async () => {
    await using fake = await startFakeOpenMeteo();
    const tokyo = await ask(fake, { ...month, timezone: "Asia/Tokyo" });
    const edmonton = await ask(fake, month);
    expect(tokyo.body.timezone).toBe("Asia/Tokyo");
    expect(tokyo.body.utc_offset_seconds).toBe(9 * 3600);
    const tokyoDays = must(tokyo.body.daily, "Tokyo's daily block");
    const edmontonDays = must(edmonton.body.daily, "Edmonton's daily block");
    expect(tokyoDays.time).toEqual(edmontonDays.time);
    expect(tokyoDays.temperature_2m_max).not.toEqual(edmontonDays.temperature_2m_max);
  });

  it("uses GMT when no timezone is given", async () => {
    await using fake = await startFakeOpenMeteo();
    const { body } = await ask(fake, { ...month, timezone: "" });
    expect(body).toMatchObject({ timezone: "GMT", utc_offset_seconds: 0 });
  });

  it("resolves timezone=auto to the nautical zone of the longitude and names it", async () => {
    await using fake = await startFakeOpenMeteo();
    const { body } = await ask(fake, { ...month, timezone: "auto" });
    // Edmonton, -113.49°: 7.6 hours west of Greenwich, so UTC-8 by longitude.
    expect(body).toMatchObject({ timezone: "Etc/GMT+8", utc_offset_seconds: -8 * 3600 });
    const { body: tokyo } = await ask(fake, { ...month, longitude: "139.69", timezone: "AUTO" });
    expect(tokyo).toMatchObject({ timezone: "Etc/GMT-9", utc_offset_seconds: 9 * 3600 });
  });

  it("answers only the daily variables asked for, in their order", async () => {
    await using fake = await startFakeOpenMeteo();
    const { body } = await ask(fake, { ...month, daily: "precipitation_sum,temperature_2m_mean" });
    expect(Object.keys(must(body.daily, "a daily block in the answer"))).toEqual([
      "time",
      "precipitation_sum",
      "temperature_2m_mean",
    ]);
    expect(body.daily_units).toEqual({ time: "iso8601", precipitation_sum: "mm", temperature_2m_mean: "°C" });
    const { body: bare } = await ask(fake, { ...month, daily: "" });
    expect(bare).not.toHaveProperty("daily");
  });

  it("has no data yet for the most recent days", async () => {
    const now = () => new Date("2024-03-10T18:00:00Z");
    await using fake = await startFakeOpenMeteo({ now, archiveDelayDays: 2 });
    const march = await daily(fake, { ...month, start_date: "2024-03-01", end_date: "2024-03-10" });
    expect(march.temperature_2m_max.slice(0, 7).every((value) => value !== null)).toBe(true);
    expect(march.temperature_2m_max.slice(7)).toEqual([null, null, null]);
    expect(march.precipitation_sum.slice(7)).toEqual([null, null, null]);
  });
});

describe("the fake archive's validation", () => {
  it.each([
    [{ latitude: "951" }, "Latitude must be in range of -90 to 90°. Given: 951.0."],
    [{ longitude: "-181" }, "Longitude must be in range of -180 to 180°. Given: -181.0."],
    [{ latitude: "north" }, "Parameter 'latitude' must be a number. Given: north"],
    [{ longitude: "" }, "Parameter 'longitude' is required"],
    [
      { start_date: "2024-02-30" },
      "Invalid date '2024-02-30' for parameter 'start_date'. Use the format YYYY-MM-DD.",
    ],
    [
      { end_date: "31.01.2024" },
      "Invalid date '31.01.2024' for parameter 'end_date'. Use the format YYYY-MM-DD.",
    ],
    [{ end_date: "" }, "Parameter 'end_date' is required"],
    [{ start_date: "2024-02-01" }, "End-date must be larger or equals than start-date"],
    [{ timezone: "Mars/Olympus_Mons" }, "Invalid timezone 'Mars/Olympus_Mons'"],
    [
      { daily: "temperature_2m_max,sunshine_hours" },
      "Cannot initialize DailyVariable from invalid String value sunshine_hours for key daily",
    ],
  ])("refuses %o with HTTP 400 and a reason", async (change, reason) => {
    await using fake = await startFakeOpenMeteo();
    expect(await ask(fake, { ...month, ...change })).toEqual({ status: 400, body: { error: true, reason } });
  });

  it("refuses dates before 1940 and after today", async () => {
    const now = () => new Date("2024-03-10T18:00:00Z");
    await using fake = await startFakeOpenMeteo({ now });
    const range = "is out of allowed range from 1940-01-01 to 2024-03-10";
    expect(await ask(fake, { ...month, start_date: "1939-12-31" })).toEqual({
      status: 400,
      body: { error: true, reason: `Parameter 'start_date' ${range}` },
    });
    expect(await ask(fake, { ...month, start_date: "0039-12-31" })).toMatchObject({ status: 400 });
    expect(await ask(fake, { ...month, start_date: "2024-03-01", end_date: "2024-03-11" })).toEqual({
      status: 400,
      body: { error: true, reason: `Parameter 'end_date' ${range}` },
    });
  });

  it("answers 404 for other paths, without counting them", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetch(new URL("/v1/forecast", fake.url));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: true, reason: "No endpoint /v1/forecast" });
    expect(fake.requests()).toBe(0);
  });
});

describe("scripting the fake archive", () => {
  it("plays scripted failures in order, then answers normally", async () => {
    await using fake = await startFakeOpenMeteo({
      script: [{ status: 503 }, { status: 429, reason: "Slow down" }],
    });
    expect(await ask(fake, month)).toEqual({
      status: 503,
      body: { error: true, reason: "Service Unavailable" },
    });
    expect(await ask(fake, month)).toEqual({ status: 429, body: { error: true, reason: "Slow down" } });
    expect((await ask(fake, month)).status).toBe(200);
  });

  it("replaces the script on demand and sends bodies verbatim", async () => {
    await using fake = await startFakeOpenMeteo({ script: [{ status: 500 }] });
    fake.setScript([{ body: "not json" }]);
    const response = await fetch(`${fake.url}?latitude=1`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("not json");
    expect((await ask(fake, month)).status).toBe(200);
  });

  it("can hang up without answering", async () => {
    await using fake = await startFakeOpenMeteo({ script: [{ hangUp: true }] });
    await expect(fetch(fake.url)).rejects.toThrow("fetch failed");
    expect((await ask(fake, month)).status).toBe(200);
  });

  it("waits the configured latency before answering", async () => {
    await using fake = await startFakeOpenMeteo({ latencyMs: 200, script: [{ latencyMs: 0 }] });
    let started = performance.now();
    await ask(fake, month);
    expect(performance.now() - started).toBeLessThan(200);
    started = performance.now();
    await ask(fake, month);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    fake.setLatency(0);
    started = performance.now();
    await ask(fake, month);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("counts requests in total and by query", async () => {
    await using fake = await startFakeOpenMeteo();
    await ask(fake, month);
    await ask(fake, month);
    await ask(fake, { ...month, timezone: "UTC" });
    await ask(fake, { ...month, latitude: "999" });
    expect(fake.requests()).toBe(4);
    expect(fake.requestsFor(month)).toBe(2);
    expect(fake.requestsFor({ timezone: "UTC" })).toBe(1);
    expect(fake.requestsFor({ latitude: "53.55" })).toBe(3);
    expect(fake.requestsFor((query) => Number(query.get("latitude")) > 90)).toBe(1);
  });
});

describe("closing the fake archive", () => {
  it("drops requests waiting on latency and refuses new connections", async () => {
    const fake = await startFakeOpenMeteo({ latencyMs: 10_000 });
    const pending = fetch(fake.url);
    while (fake.requests() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await fake.close();
    await expect(pending).rejects.toThrow("fetch failed");
    await expect(fetch(fake.url)).rejects.toThrow("fetch failed");
    await fake.close();
  });

  it("closes at the end of an await using block", async () => {
    let url = "";
    {
      await using fake = await startFakeOpenMeteo();
      url = fake.url;
      expect((await ask(fake, month)).status).toBe(200);
    }
    await expect(fetch(url)).rejects.toThrow("fetch failed");
  });
});

describe("fake-open-meteo-main", () => {
  it("serves on its own, prints its URL to stderr and stops on SIGTERM", async () => {
    const main = fileURLToPath(new URL("./fake-open-meteo-main.ts", import.meta.url));
    const child = spawn(process.execPath, [main, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk;
      });
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk;
          const listening = /msg="listening" url=(\S+)/.exec(stderr)?.[1];
          if (listening !== undefined) resolve(listening);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/archive$/);
      const response = await fetch(`${url}?${new URLSearchParams(month)}`);
      expect(response.status).toBe(200);

      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
      expect(stderr).toContain('msg="stopped" signal=SIGTERM');
      expect(stdout).toBe("");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
