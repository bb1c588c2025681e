/** The places the demo gathers weather for, with the time zone their days are counted in. */
import type { WeatherRequestInput } from "../open-meteo/schemas.ts";

/** A named place. */
export interface City {
  name: string;
  latitude: number;
  longitude: number;
  timezone: string;
}

/**
 * Five Canadian cities, from the Rockies to the Great Lakes. A fixed-length tuple, so the demo can name
 * `CITIES[0]` and know it is there.
 */
export const CITIES: readonly [City, City, City, City, City] = [
  { name: "Calgary", latitude: 51.05, longitude: -114.07, timezone: "America/Edmonton" },
  { name: "Edmonton", latitude: 53.55, longitude: -113.49, timezone: "America/Edmonton" },
  { name: "Banff", latitude: 51.18, longitude: -115.57, timezone: "America/Edmonton" },
  { name: "Vancouver", latitude: 49.28, longitude: -123.12, timezone: "America/Vancouver" },
  { name: "Toronto", latitude: 43.65, longitude: -79.38, timezone: "America/Toronto" },
];

/**
 * The start_gathering arguments for `city` in one month.
 *
 * @example
 * ```ts
 * monthAt(CITIES[0], 2024, 1); // { latitude: 51.05, longitude: -114.07, year: 2024, month: 1, timezone: … }
 * ```
 */
export function monthAt(city: City, year: number, month: number): WeatherRequestInput {
  return { latitude: city.latitude, longitude: city.longitude, year, month, timezone: city.timezone };
}
