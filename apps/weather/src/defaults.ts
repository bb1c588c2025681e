/**
 * The weather server's own defaults (core's are in @async-tools/core's defaults.ts): how big a gathering may be,
 * when it asks before calling Open-Meteo, and how long a job may take. docs/configuration.md lists each of them.
 */

const MINUTE = 60 * 1000;

export const WEATHER_DEFAULTS = {
  /**
   * A job that needs more Open-Meteo requests than this asks the person first ("this is 14 requests to
   * Open-Meteo, continue?"); `--confirm-above N` or `WEATHER_CONFIRM_ABOVE` changes it.
   */
  confirmAbove: 10,
  /** How long that question stays open; unanswered, the job ends as declined. */
  confirmTimeoutMs: 30 * MINUTE,
  /** A job still running after this long (its question's wait included) fails as timed out. */
  jobTimeoutMs: 60 * MINUTE,
  /** Most places of one job: `latitude`/`longitude` and at most this many more in `places`. */
  maxExtraPlaces: 24,
  /** Most consecutive months of one job (`months`). */
  maxMonths: 240,
} as const;
