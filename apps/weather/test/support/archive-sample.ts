/** Archive answers the weather tests build by hand. */
import type { OpenMeteoArchiveResponse } from "../../src/open-meteo/schemas.ts";

/** An archive answer for January 2024 with the given [max, min, precipitation] per day. */
export function sample(days: (number | null)[][]): OpenMeteoArchiveResponse {
  return {
    latitude: 53.5,
    longitude: -113.5,
    timezone: "America/Edmonton",
    daily_units: { temperature_2m_max: "°C", temperature_2m_min: "°C", precipitation_sum: "mm" },
    daily: {
      time: days.map((_, i) => `2024-01-${String(i + 1).padStart(2, "0")}`),
      temperature_2m_max: days.map((day) => day[0] ?? null),
      temperature_2m_min: days.map((day) => day[1] ?? null),
      precipitation_sum: days.map((day) => day[2] ?? null),
    },
  };
}
