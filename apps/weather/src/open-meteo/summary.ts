/**
 * Turns Open-Meteo's archive answer into the weather tool's result: the days of the month and a summary, or
 * of each month an answer covers.
 */
import { formatMonth } from "./calendar.ts";
import type { Month } from "./plan.ts";
import type { OpenMeteoArchiveResponse, WeatherResult } from "./schemas.ts";

/** Rounds to 0.1, turning the -0 that rounding small negatives yields into 0. */
function round1(value: number): number {
  return Math.round(value * 10) / 10 + 0;
}

/**
 * Turns Open-Meteo's answer for `request` into the weather tool's result: per-day values plus monthly
 * extremes, mean, total precipitation, the wettest day and how many days lack data.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * const result = summarize(await fetchMonth(request, { baseUrl: archiveUrlFromEnv() }), request);
 * result.summary.temperature_mean_c; // e.g. -9.8
 * ```
 */
export function summarize(response: OpenMeteoArchiveResponse, request: Month): WeatherResult {
  const { daily } = response;
  const days = daily.time.map((date, i) => ({
    date,
    temperature_max_c: daily.temperature_2m_max[i] ?? null,
    temperature_min_c: daily.temperature_2m_min[i] ?? null,
    precipitation_mm: daily.precipitation_sum[i] ?? null,
  }));

  const maxima = days.flatMap((day) => (day.temperature_max_c === null ? [] : [day.temperature_max_c]));
  const minima = days.flatMap((day) => (day.temperature_min_c === null ? [] : [day.temperature_min_c]));
  const middles = days.flatMap((day) =>
    day.temperature_max_c === null || day.temperature_min_c === null
      ? []
      : [(day.temperature_max_c + day.temperature_min_c) / 2],
  );
  const wet = days.flatMap((day) =>
    day.precipitation_mm === null ? [] : [{ date: day.date, precipitation_mm: day.precipitation_mm }],
  );

  let wettest: { date: string; precipitation_mm: number } | undefined;
  for (const day of wet) {
    if (day.precipitation_mm > (wettest?.precipitation_mm ?? 0)) wettest = day;
  }

  const summary: WeatherResult["summary"] = {
    days: days.length,
    temperature_min_c: minima.length > 0 ? Math.min(...minima) : null,
    temperature_max_c: maxima.length > 0 ? Math.max(...maxima) : null,
    temperature_mean_c:
      middles.length > 0 ? round1(middles.reduce((a, b) => a + b, 0) / middles.length) : null,
    precipitation_total_mm:
      wet.length > 0 ? round1(wet.reduce((a, day) => a + day.precipitation_mm, 0)) : null,
    ...(wettest ? { wettest_day: wettest } : {}),
    missing_days: days.filter(
      (day) =>
        day.temperature_max_c === null || day.temperature_min_c === null || day.precipitation_mm === null,
    ).length,
  };

  return {
    location: { latitude: response.latitude, longitude: response.longitude, timezone: response.timezone },
    year: request.year,
    month: request.month,
    days,
    summary,
  };
}

/**
 * The result of each of `months` from one answer that covers them all (a year's request): each month's days
 * and summary, in order.
 *
 * @example
 * ```ts
 * const query = { latitude: 53.55, longitude: -113.49, timezone: "auto", start_date: "2023-01-01", end_date: "2023-02-28" };
 * const [january, february] = summarizeMonths(await fetchArchive(query, options), [
 *   { year: 2023, month: 1 },
 *   { year: 2023, month: 2 },
 * ]);
 * ```
 */
export function summarizeMonths(
  response: OpenMeteoArchiveResponse,
  months: readonly Month[],
): WeatherResult[] {
  const { daily } = response;
  return months.map((month) => {
    const prefix = `${formatMonth(month)}-`;
    const keep = daily.time.flatMap((date, i) => (date.startsWith(prefix) ? [i] : []));
    const pick = (values: (number | null)[]) => keep.map((i) => values[i] ?? null);
    const slice: OpenMeteoArchiveResponse = {
      ...response,
      daily: {
        time: keep.map((i) => daily.time[i] as string),
        temperature_2m_max: pick(daily.temperature_2m_max),
        temperature_2m_min: pick(daily.temperature_2m_min),
        precipitation_sum: pick(daily.precipitation_sum),
      },
    };
    return summarize(slice, month);
  });
}
