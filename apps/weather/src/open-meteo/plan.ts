/**
 * Which Open-Meteo requests a job makes: one per place and calendar year its months touch, so a gathering of
 * seven places over two years is 14 requests, each one durable step. The count is what a job asks a person to
 * confirm before it spends them.
 */
import { addMonths, dayZone, monthRange } from "./calendar.ts";
import type { WeatherRequest } from "./schemas.ts";

/** A place on Earth, in decimal degrees. */
export interface Place {
  latitude: number;
  longitude: number;
}

/** A calendar month. */
export interface Month {
  year: number;
  month: number;
}

/** One archive request: the days of `months` (consecutive, within one calendar year) at one place. */
export interface ArchiveRequest {
  place: Place;
  months: Month[];
}

/** A job's places, months and the requests that gather them, in order: place by place, year by year. */
export interface GatheringPlan {
  places: Place[];
  months: Month[];
  requests: ArchiveRequest[];
}

/**
 * The requests that gather `request`: its place and its `places`, each for `months` months from year/month.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 51.05, longitude: -114.07, year: 2023, month: 12, months: 2 });
 * gatheringPlan(request).requests.length; // 2: December 2023, then January 2024
 * ```
 */
export function gatheringPlan(request: WeatherRequest): GatheringPlan {
  const first = { latitude: request.latitude, longitude: request.longitude };
  const places = [first, ...(request.places ?? [])];
  const months = Array.from({ length: request.months ?? 1 }, (_, i) => addMonths(request, i));
  const requests: ArchiveRequest[] = [];
  for (const place of places) {
    for (const month of months) {
      const last = requests.at(-1);
      if (last?.place === place && last.months[0]?.year === month.year) last.months.push(month);
      else requests.push({ place, months: [month] });
    }
  }
  return { places, months, requests };
}

/** The dates `archiveRequest` asks for: its first month's first day to its last month's last (or yesterday). */
export function requestRange(
  archiveRequest: ArchiveRequest,
  timezone: string,
): { start_date: string; end_date: string } {
  const zone = { timezone: dayZone(timezone, archiveRequest.place.longitude) };
  const first = archiveRequest.months[0] as Month;
  const last = archiveRequest.months.at(-1) as Month;
  return {
    start_date: monthRange(first.year, first.month, zone).start_date,
    end_date: monthRange(last.year, last.month, zone).end_date,
  };
}
