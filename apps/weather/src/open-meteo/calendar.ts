/**
 * Calendar arithmetic of the weather tool: time zone names (checked and canonicalised with `Intl`), "today"
 * in a zone or at a place, the dates of one calendar month, and month arithmetic.
 */

/** The `timezone` value that asks Open-Meteo to count days in the place's own time zone. */
export const AUTO_TIMEZONE = "auto";

/**
 * Names of UTC, pinned to `"UTC"` here rather than left to the runtime: a job ID is derived from the canonical
 * name, and newer `Intl` implementations keep such aliases as given instead of canonicalising them.
 */
const UTC_ALIASES = new Set(
  ["UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"].flatMap((name) => [
    name.toLowerCase(),
    `etc/${name.toLowerCase()}`,
  ]),
);

/**
 * The canonical IANA name of `timeZone` as this runtime's `Intl` knows it (`"utc"`, `"Etc/UTC"` and `"UTC"`
 * all give `"UTC"`, `"US/Pacific"` gives `"America/Los_Angeles"`), `"auto"` for any casing of `auto`, or
 * `undefined` when it names no zone. Offsets such as `"+05:00"` are refused: Open-Meteo wants a name.
 *
 * @example
 * ```ts
 * canonicalTimeZone("etc/utc"); // "UTC"
 * canonicalTimeZone("Mars/Olympus_Mons"); // undefined
 * ```
 */
export function canonicalTimeZone(timeZone: string): string | undefined {
  const trimmed = timeZone.trim();
  if (trimmed.toLowerCase() === AUTO_TIMEZONE) return AUTO_TIMEZONE;
  if (!/^[A-Za-z]/.test(trimmed)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: trimmed }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  return UTC_ALIASES.has(resolved.toLowerCase()) ? "UTC" : resolved;
}

/**
 * Whether `timeZone` is an IANA time zone name this runtime knows, such as `"Europe/Berlin"`.
 *
 * @example
 * ```ts
 * isTimeZone("America/Edmonton"); // true
 * isTimeZone("Mars/Olympus_Mons"); // false
 * ```
 */
export function isTimeZone(timeZone: string): boolean {
  const canonical = canonicalTimeZone(timeZone);
  return canonical !== undefined && canonical !== AUTO_TIMEZONE;
}

/**
 * The zone to count "today" in for a request: `timeZone` itself, or for `"auto"` the nautical zone of
 * `longitude` (`Etc/GMT+7` west of Greenwich by 7 × 15°). Open-Meteo resolves `auto` to the place's civil
 * zone, which can differ by an hour or three; only which day is "yesterday" depends on this, near midnight.
 *
 * @example
 * ```ts
 * dayZone("auto", -113.49); // "Etc/GMT+8"
 * dayZone("Europe/Berlin", -113.49); // "Europe/Berlin"
 * ```
 */
export function dayZone(timeZone: string, longitude: number): string {
  if (timeZone !== AUTO_TIMEZONE) return timeZone;
  const hours = Math.max(-12, Math.min(12, Math.round(longitude / 15)));
  // The Etc/GMT names carry POSIX signs: Etc/GMT+8 is eight hours *behind* UTC.
  return hours === 0 ? "UTC" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
}

/** A day of the proleptic Gregorian calendar. */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

/** The calendar date in `timeZone` at the instant `now`. */
export function todayIn(timeZone: string, now: Date): CalendarDate {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return { year: part("year"), month: part("month"), day: part("day") };
}

/** A number that orders dates: `YYYYMMDD`. */
export function dateKey({ year, month, day }: CalendarDate): number {
  return year * 10_000 + month * 100 + day;
}

/** `YYYY-MM-DD`. */
export function formatDate({ year, month, day }: CalendarDate): string {
  return `${formatMonth({ year, month })}-${String(day).padStart(2, "0")}`;
}

/**
 * A calendar month as `YYYY-MM`, the year written out whole however long it is.
 *
 * @example
 * ```ts
 * formatMonth({ year: 2024, month: 3 }); // "2024-03"
 * ```
 */
export function formatMonth({ year, month }: { year: number; month: number }): string {
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function dayBefore(date: CalendarDate): CalendarDate {
  if (date.day > 1) return { ...date, day: date.day - 1 };
  if (date.month > 1)
    return { year: date.year, month: date.month - 1, day: daysInMonth(date.year, date.month - 1) };
  return { year: date.year - 1, month: 12, day: 31 };
}

/** An inclusive range of dates in Open-Meteo's `start_date`/`end_date` form (`YYYY-MM-DD`). */
export interface DateRange {
  start_date: string;
  end_date: string;
}

/**
 * The dates of one calendar month: its first to its last day, or to yesterday for the current month.
 * "Today" is taken in `timezone` (default UTC; pass {@link dayZone}'s answer for `auto`) at `now` (default:
 * the clock). Throws a `RangeError` for a month without a complete day yet; the request schema refuses those.
 *
 * @example
 * ```ts
 * monthRange(2024, 2); // { start_date: "2024-02-01", end_date: "2024-02-29" }
 * ```
 */
export function monthRange(
  year: number,
  month: number,
  options: { timezone?: string; now?: Date } = {},
): DateRange {
  const timezone = options.timezone ?? "UTC";
  const today = todayIn(timezone, options.now ?? new Date());
  const first = { year, month, day: 1 };
  const last = { year, month, day: daysInMonth(year, month) };
  if (dateKey(first) >= dateKey(today)) {
    throw new RangeError(
      `${formatMonth(first)} has no complete day yet (today is ${formatDate(today)} in ${timezone})`,
    );
  }
  const end = dateKey(last) < dateKey(today) ? last : dayBefore(today);
  return { start_date: formatDate(first), end_date: formatDate(end) };
}

/**
 * The calendar month `count` months after `from` (before it for a negative count).
 *
 * @example
 * ```ts
 * addMonths({ year: 2023, month: 11 }, 3); // { year: 2024, month: 2 }
 * ```
 */
export function addMonths(
  from: { year: number; month: number },
  count: number,
): { year: number; month: number } {
  const index = from.year * 12 + (from.month - 1) + count;
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}
