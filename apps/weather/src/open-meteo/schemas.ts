/**
 * The weather tool's schemas: its input (a place and a month, or several places and consecutive months, with
 * messages a model can act on), its output, and the part of Open-Meteo's archive answer the client reads.
 */
import { z } from "zod";
import { WEATHER_DEFAULTS } from "../defaults.ts";
import {
  AUTO_TIMEZONE,
  addMonths,
  canonicalTimeZone,
  dateKey,
  dayZone,
  formatDate,
  formatMonth,
  isTimeZone,
  todayIn,
} from "./calendar.ts";

/** The time zone days are counted in when a request names none: the place's own, as Open-Meteo finds it. */
export const DEFAULT_TIMEZONE = AUTO_TIMEZONE;

const FIRST_ARCHIVE_YEAR = 1940;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** How much of a bad value an error message repeats: enough to recognise it, never a whole payload. */
const ECHO_CHARS = 40;

/**
 * A bad value as an error message may quote it: JSON, cut to its first {@link ECHO_CHARS} characters.
 *
 * @example
 * ```ts
 * echo("Mars/Olympus_Mons"); // "\"Mars/Olympus_Mons\""
 * echo("x".repeat(1000)); // "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"
 * ```
 */
export function echo(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > ECHO_CHARS ? `${text.slice(0, ECHO_CHARS - 1)}…` : text;
}

const latitudeMessage = "latitude must be between -90 and 90 (decimal degrees, south is negative)";
const longitudeMessage = "longitude must be between -180 and 180 (decimal degrees, west is negative)";
const monthMessage = "month must be 1-12 (January = 1)";
const monthsMessage = `months must be a whole number from 1 to ${WEATHER_DEFAULTS.maxMonths}`;

const latitude = z
  .number({ error: "latitude must be a number in decimal degrees, e.g. 53.55" })
  .min(-90, latitudeMessage)
  .max(90, latitudeMessage);
const longitude = z
  .number({ error: "longitude must be a number in decimal degrees, e.g. -113.49" })
  .min(-180, longitudeMessage)
  .max(180, longitudeMessage);

/** Why `first` … `last` at a place (in `zone`) cannot be gathered yet, or `undefined` when it can. */
function incompleteMonth(
  first: { year: number; month: number },
  months: number,
  zone: string,
  where: string,
): string | undefined {
  const last = addMonths(first, months - 1);
  const today = todayIn(zone, new Date());
  if (dateKey({ ...last, day: 1 }) < dateKey(today)) return undefined;
  const asked =
    months === 1
      ? formatMonth(first)
      : `${formatMonth(first)} + ${months - 1} months runs to ${formatMonth(last)}, which`;
  const fix = months === 1 ? "ask for an earlier month" : "ask for fewer months or an earlier start";
  return (
    `${asked} has no complete day yet (today is ${formatDate(today)} ${where}): ` +
    `${fix}; the current month can be asked for from its second day on`
  );
}

/**
 * The weather tool's arguments: a place and a calendar month. Besides field ranges it refuses years before
 * 1940 (Open-Meteo's archive starts in 1940) and months that have not yet had a complete day at the place:
 * the current month is accepted from its second day on and then covers the days up to yesterday. The time
 * zone is canonicalised (`utc`, `Etc/UTC` and `UTC` all become `UTC`), so aliases make one job.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * request.timezone; // "auto": the place's own, America/Edmonton here
 * ```
 */
export const WeatherRequestSchema = z
  .object({
    latitude: latitude.describe(
      "Latitude in decimal degrees, -90 (South Pole) to 90 (North Pole); e.g. 53.55 for Edmonton",
    ),
    longitude: longitude.describe(
      "Longitude in decimal degrees, -180 to 180, west of Greenwich negative; e.g. -113.49 for Edmonton",
    ),
    year: z
      .number({ error: "year must be a number such as 2024" })
      .int("year must be a whole number such as 2024")
      .min(FIRST_ARCHIVE_YEAR, {
        error: (issue) =>
          `year must be 1940 or later, got ${echo(issue.input)}: Open-Meteo's archive starts in 1940`,
      })
      .describe("Calendar year, 1940 or later (Open-Meteo's archive starts in 1940)"),
    month: z
      .number({ error: monthMessage })
      .int(monthMessage)
      .min(1, monthMessage)
      .max(12, monthMessage)
      .describe(
        "Month of the year, 1-12 (January = 1). The current month covers the days up to yesterday; " +
          "future months are refused.",
      ),
    timezone: z
      .string({ error: 'timezone must be "auto" or an IANA time zone name such as "Europe/Berlin"' })
      // The default sits before the transform so that the input's JSON Schema shows it.
      .default(DEFAULT_TIMEZONE)
      // Canonical before the job ID is derived from the validated input: aliases share one job.
      .transform((value, ctx) => {
        const canonical = canonicalTimeZone(value);
        if (canonical !== undefined) return canonical;
        ctx.addIssue({
          code: "custom",
          input: value,
          message:
            `timezone ${echo(value)} is not an IANA time zone name; ` +
            'use "auto" (the place\'s own) or one such as "America/Edmonton", "Europe/Berlin" or "UTC"',
        });
        return z.NEVER;
      })
      .describe(
        'Time zone in which days start and end: "auto" (the default) for the place\'s own, or an IANA ' +
          'name such as "Europe/Berlin" or "UTC"',
      ),
    months: z
      .number({ error: monthsMessage })
      .int(monthsMessage)
      .min(1, monthsMessage)
      .max(WEATHER_DEFAULTS.maxMonths, monthsMessage)
      .optional()
      // One month is the default: saying so makes the same job as leaving it out.
      .transform((value) => (value === 1 ? undefined : value))
      .describe(
        `How many consecutive months to gather, from year/month on (default 1, at most ${WEATHER_DEFAULTS.maxMonths}); ` +
          "one Open-Meteo request per place and calendar year",
      ),
    places: z
      .array(z.object({ latitude, longitude }), { error: "places must be a list of {latitude, longitude}" })
      .max(WEATHER_DEFAULTS.maxExtraPlaces, {
        error: `places takes at most ${WEATHER_DEFAULTS.maxExtraPlaces} more places; start another job for the rest`,
      })
      .optional()
      .transform((value) => (value?.length === 0 ? undefined : value))
      .describe(
        "More places to gather the same months for, besides latitude/longitude: [{latitude, longitude}, …]. " +
          `A job of more than ${WEATHER_DEFAULTS.confirmAbove} requests (by default) asks the user first.`,
      ),
  })
  .superRefine((request, ctx) => {
    // Zod runs this even when a field failed, so only judge the dates once their parts are sound.
    const { year, month, timezone } = request;
    if (!Number.isInteger(year) || !Number.isInteger(month) || month < 1 || month > 12) return;
    if (timezone !== AUTO_TIMEZONE && !isTimeZone(timezone)) return;
    const months = request.months ?? 1;
    if (!Number.isInteger(months) || months < 1 || months > WEATHER_DEFAULTS.maxMonths) return;
    const places = [{ longitude: request.longitude, where: "at this place" }];
    for (const place of request.places ?? []) {
      places.push({ longitude: place.longitude, where: `at ${place.latitude}, ${place.longitude}` });
    }
    for (const place of places) {
      if (!(Math.abs(place.longitude) <= 180)) return;
      const where = timezone === AUTO_TIMEZONE ? place.where : `in ${timezone}`;
      const reason = incompleteMonth({ year, month }, months, dayZone(timezone, place.longitude), where);
      if (reason !== undefined) {
        ctx.addIssue({ code: "custom", path: [months === 1 ? "month" : "months"], message: reason });
        return;
      }
    }
  })
  .describe(
    "A place and a calendar month of historic daily weather, or several places and consecutive months",
  );

/** The weather tool's arguments as given, before defaults are applied. */
export type WeatherRequestInput = z.input<typeof WeatherRequestSchema>;

/** The weather tool's arguments once validated: default and canonical time zone filled in, one month implied. */
export type WeatherRequest = z.output<typeof WeatherRequestSchema>;

const nullableNumbers = z.array(z.number().nullable());

/**
 * The part of Open-Meteo's archive answer that the client asks for: daily maximum and minimum temperature
 * (°C) and precipitation (mm), one value or `null` per date in `daily.time`, and the time zone the days were
 * counted in (the place's own for `timezone=auto`).
 *
 * @example
 * ```ts
 * const query = "latitude=53.55&longitude=-113.49&start_date=2024-01-01&end_date=2024-01-31";
 * const daily = "daily=temperature_2m_max,temperature_2m_min,precipitation_sum&timezone=auto";
 * const response = await fetch(`https://archive-api.open-meteo.com/v1/archive?${query}&${daily}`);
 * const parsed = OpenMeteoArchiveResponseSchema.safeParse(await response.json());
 * ```
 */
export const OpenMeteoArchiveResponseSchema = z
  .object({
    latitude: z.number(),
    longitude: z.number(),
    timezone: z.string(),
    daily_units: z.object({
      temperature_2m_max: z.literal("°C"),
      temperature_2m_min: z.literal("°C"),
      precipitation_sum: z.literal("mm"),
    }),
    daily: z.object({
      time: z.array(z.string().regex(ISO_DATE, "dates must look like YYYY-MM-DD")),
      temperature_2m_max: nullableNumbers,
      temperature_2m_min: nullableNumbers,
      precipitation_sum: nullableNumbers,
    }),
  })
  .refine(
    ({ daily }) =>
      [daily.temperature_2m_max, daily.temperature_2m_min, daily.precipitation_sum].every(
        (values) => values?.length === daily.time?.length,
      ),
    { message: "every daily series must have one value per date in daily.time", path: ["daily"] },
  );

/** Open-Meteo's archive answer, as validated by {@link OpenMeteoArchiveResponseSchema}. */
export type OpenMeteoArchiveResponse = z.output<typeof OpenMeteoArchiveResponseSchema>;

const nullableCelsius = (what: string) =>
  z
    .number()
    .nullable()
    .describe(`${what}, °C; null when Open-Meteo has no value (recent days may not be archived yet)`);

const DaySchema = z.object({
  date: z.string().describe("Local date, YYYY-MM-DD"),
  temperature_max_c: nullableCelsius("Highest air temperature 2 m above ground"),
  temperature_min_c: nullableCelsius("Lowest air temperature 2 m above ground"),
  precipitation_mm: z
    .number()
    .nullable()
    .describe("Rain, showers and snowfall (as water), mm; null when Open-Meteo has no value"),
});

const LocationSchema = z
  .object({
    latitude: z.number().describe("Latitude of the grid cell Open-Meteo used, near the one asked for"),
    longitude: z.number().describe("Longitude of the grid cell Open-Meteo used, near the one asked for"),
    timezone: z.string().describe("IANA time zone the days are counted in"),
  })
  .describe("Where the data comes from");

const SummarySchema = z
  .object({
    days: z
      .number()
      .int()
      .describe("Days covered: the whole month, or up to yesterday for the current month"),
    temperature_min_c: z.number().nullable().describe("Lowest daily minimum of the month, °C"),
    temperature_max_c: z.number().nullable().describe("Highest daily maximum of the month, °C"),
    temperature_mean_c: z
      .number()
      .nullable()
      .describe("Mean over the days of (max + min) / 2, °C, rounded to 0.1"),
    precipitation_total_mm: z
      .number()
      .nullable()
      .describe("Total precipitation of the month, mm, rounded to 0.1"),
    wettest_day: z
      .object({ date: z.string(), precipitation_mm: z.number() })
      .optional()
      .describe("The day with the most precipitation (the first, on a tie); absent when none fell"),
    missing_days: z.number().int().describe("Days lacking at least one value (null above)"),
  })
  .describe("The month at a glance");

/**
 * The weather tool's result (its MCP `outputSchema`): every day of the month and a summary (of the first month
 * at the first place, when the job gathered several, with all of them at a glance in `gathered`). Values
 * Open-Meteo does not have are `null`; summary figures use the days that have them and are `null` when none do.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * const response = await fetchMonth(request, { baseUrl: DEFAULT_ARCHIVE_URL });
 * const result = WeatherResultSchema.parse(summarize(response, request));
 * ```
 */
export const WeatherResultSchema = z
  .object({
    location: LocationSchema,
    year: z.number().int().describe("Calendar year"),
    month: z.number().int().min(1).max(12).describe("Month of the year, 1-12 (January = 1)"),
    days: z.array(DaySchema).describe("One entry per day, in date order"),
    summary: SummarySchema,
    gathered: z
      .array(
        z.object({
          location: LocationSchema,
          year: z.number().int(),
          month: z.number().int().min(1).max(12),
          summary: SummarySchema,
        }),
      )
      .optional()
      .describe(
        "Present when the job gathered more than one month or place: every month at every place at a glance, " +
          "place by place (in the order asked), month by month; the first is the month above",
      ),
  })
  .describe("Daily historic weather for one month at one place (and more at a glance), from Open-Meteo");

/** The weather tool's result, as described by {@link WeatherResultSchema}. */
export type WeatherResult = z.output<typeof WeatherResultSchema>;
