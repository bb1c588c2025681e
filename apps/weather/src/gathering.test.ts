/**
 * The weather job in process (memory store) against the fake archive on 127.0.0.1: a gathering of several
 * places and months makes one request per place and year, and one of more requests than the threshold asks
 * first, making none before the answer.
 */
import { createAsyncTools, jobIdOf } from "@async-tools/core";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeOpenMeteo, startFakeOpenMeteo } from "../test/support/fake-open-meteo.ts";
import { confirmMessage } from "./gathering.ts";
import { gatheringPlan } from "./open-meteo/plan.ts";
import { WeatherRequestSchema, type WeatherResult } from "./open-meteo/schemas.ts";
import { confirmAboveFromEnv, weatherTool } from "./server.ts";

const calgary = { latitude: 51.05, longitude: -114.07 };
/** Calgary and six more places, December 2023 and January 2024: 7 places × 2 years = 14 requests. */
const sevenPlaces = {
  ...calgary,
  year: 2023,
  month: 12,
  months: 2,
  places: [1, 2, 3, 4, 5, 6].map((i) => ({ latitude: 50 + i, longitude: -110 + i })),
};

let fake: FakeOpenMeteo | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function runtimeWith(options: { confirmAbove?: number; confirmTimeoutMs?: number } = {}) {
  fake = await startFakeOpenMeteo();
  const tool = weatherTool({ archiveUrl: fake.url, ...options });
  return { tool, runtime: await createAsyncTools({ store: "memory", tools: [tool] }) };
}

describe("a gathering plan", () => {
  it("makes one request per place and calendar year, months of a year together", () => {
    const plan = gatheringPlan(WeatherRequestSchema.parse(sevenPlaces));
    expect(plan.requests).toHaveLength(14);
    expect(plan.requests[0]).toEqual({ place: calgary, months: [{ year: 2023, month: 12 }] });
    expect(plan.requests[1]).toEqual({ place: calgary, months: [{ year: 2024, month: 1 }] });
    expect(confirmMessage(plan)).toBe(
      "This is 14 requests to Open-Meteo (7 places, 2 months, 2023-12 to 2024-01), continue?",
    );
    const spring = gatheringPlan(WeatherRequestSchema.parse({ ...calgary, year: 2023, month: 3, months: 3 }));
    expect(spring.requests).toEqual([
      {
        place: calgary,
        months: [
          { year: 2023, month: 3 },
          { year: 2023, month: 4 },
          { year: 2023, month: 5 },
        ],
      },
    ]);
  });

  it("keeps the job of one place and month: months 1 and no places are the arguments left out", () => {
    const tool = weatherTool({ archiveUrl: "http://127.0.0.1:1/v1/archive" });
    const month = { ...calgary, year: 2024, month: 1 };
    expect(jobIdOf(tool, { ...month, months: 1, places: [] })).toBe(jobIdOf(tool, month));
    expect(jobIdOf(tool, { ...month, months: 2 })).not.toBe(jobIdOf(tool, month));
  });

  it("refuses months that run into the future and too many places, saying what to do", () => {
    const now = new Date();
    const future = WeatherRequestSchema.safeParse({
      ...calgary,
      year: now.getUTCFullYear() - 1,
      month: 1,
      months: 36,
    });
    expect(future.error?.issues[0]?.message).toMatch(/has no complete day yet .*ask for fewer months/);
    const crowded = WeatherRequestSchema.safeParse({
      ...calgary,
      year: 2023,
      month: 1,
      places: Array.from({ length: 25 }, () => calgary),
    });
    expect(crowded.error?.issues[0]?.message).toContain("places takes at most 24 more places");
  });

  it("reads the threshold from WEATHER_CONFIRM_ABOVE, refusing what is not a count", () => {
    expect(confirmAboveFromEnv({})).toBe(10);
    expect(confirmAboveFromEnv({ WEATHER_CONFIRM_ABOVE: "20" })).toBe(20);
    expect(() => confirmAboveFromEnv({ WEATHER_CONFIRM_ABOVE: "many" })).toThrow(/whole number/);
  });
});

describe("a gathering of many requests", () => {
  it("asks before 14 requests, makes none before the answer, and exactly 14 after an accept", async () => {
    const { tool, runtime } = await runtimeWith();
    await using _ = runtime;
    const { jobId } = await runtime.start(tool, sevenPlaces);
    const [asking] = await runtime.wait([jobId], { timeoutMs: 30_000 });
    expect(asking).toMatchObject({ status: "input_required", questions: [{ id: `${jobId}/confirm` }] });
    expect(asking?.questions?.[0]?.request).toMatchObject({
      message: "This is 14 requests to Open-Meteo (7 places, 2 months, 2023-12 to 2024-01), continue?",
      requestedSchema: { properties: { proceed: { type: "boolean" } }, required: ["proceed"] },
    });
    expect(fake?.requests()).toBe(0);

    const answered = await runtime.answer(jobId, {
      [`${jobId}/confirm`]: { action: "accept", content: { proceed: true } },
    });
    expect(answered).toEqual({ status: "ok" });
    const [done] = await runtime.wait([jobId], { timeoutMs: 60_000 });
    expect(done?.status).toBe("completed");
    expect(fake?.requests()).toBe(14);
    // Calgary's December 2023 and its January 2024, each a request of its own.
    expect(fake?.requestsFor({ latitude: "51.05", start_date: "2023-12-01", end_date: "2023-12-31" })).toBe(
      1,
    );
    expect(fake?.requestsFor({ latitude: "51.05", start_date: "2024-01-01", end_date: "2024-01-31" })).toBe(
      1,
    );
    const result = done?.result as WeatherResult;
    expect(result).toMatchObject({ year: 2023, month: 12, summary: { days: 31 } });
    expect(result.days).toHaveLength(31);
    expect(result.gathered?.map((g) => `${g.year}-${g.month}`)).toEqual(
      Array.from({ length: 7 }, () => ["2023-12", "2024-1"]).flat(),
    );
    expect(result.gathered?.[1]?.summary.days).toBe(31);
  });

  it("ends a declined gathering with a clear error and no request made", async () => {
    const { tool, runtime } = await runtimeWith();
    await using _ = runtime;
    const { jobId } = await runtime.start(tool, sevenPlaces);
    await runtime.wait([jobId], { timeoutMs: 30_000 });
    await runtime.answer(jobId, { [`${jobId}/confirm`]: { action: "decline" } });
    const [done] = await runtime.wait([jobId], { timeoutMs: 30_000 });
    expect(done).toMatchObject({
      status: "failed",
      error: {
        code: "failed",
        message: expect.stringContaining(
          "Not gathered: 14 requests to Open-Meteo need the user's confirmation, and they declined, so none was made.",
        ),
      },
    });
    expect(fake?.requests()).toBe(0);
  });

  it("ends a gathering nobody confirmed within the question's time, with no request made", async () => {
    const { tool, runtime } = await runtimeWith({ confirmTimeoutMs: 500 });
    await using _ = runtime;
    const { jobId } = await runtime.start(tool, sevenPlaces);
    await expect
      .poll(async () => (await runtime.probe([jobId]))[0]?.status, { timeout: 30_000 })
      .toBe("failed");
    expect((await runtime.probe([jobId]))[0]?.error).toMatchObject({
      code: "failed",
      message: expect.stringContaining(
        "need the user's confirmation, and no answer came within 0.5 seconds, so none was made",
      ),
    });
    expect(fake?.requests()).toBe(0);
  });

  it("gathers without asking when the requests are within the threshold", async () => {
    const { tool, runtime } = await runtimeWith({ confirmAbove: 14 });
    await using _ = runtime;
    const { jobId } = await runtime.start(tool, sevenPlaces);
    const [done] = await runtime.wait([jobId], { timeoutMs: 60_000 });
    expect(done?.status).toBe("completed");
    expect(fake?.requests()).toBe(14);
  });

  it("gathers one place and month in one request, as before, with no list at a glance", async () => {
    const { tool, runtime } = await runtimeWith({ confirmAbove: 0 });
    await using _ = runtime;
    const { jobId } = await runtime.start(tool, { ...calgary, year: 2024, month: 1 });
    const [done] = await runtime.wait([jobId], { timeoutMs: 60_000 });
    expect(done?.status).toBe("completed");
    expect(done?.result).not.toHaveProperty("gathered");
    expect(fake?.requests()).toBe(1);
    expect((await runtime.get(jobId)).steps.map((s) => s.name)).toEqual(["fetch archive"]);
  });
});
