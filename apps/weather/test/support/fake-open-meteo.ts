/**
 * A stand-in for Open-Meteo's archive API on 127.0.0.1, so tests, demos and crash drills never leave the
 * machine: realistic, deterministic daily weather, Open-Meteo-shaped errors, scripted failures, latency and
 * request counts. It writes nothing to stdout or stderr.
 */
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * One forced answer, used in place of the normal one by the next request. With a `body` it is sent as is
 * (a string verbatim, so `"{oops"` makes invalid JSON; anything else as JSON). Without one, a status of 400
 * or more answers Open-Meteo's error shape `{"error": true, "reason": …}` and a lower status the normal data.
 */
export interface ScriptedResponse {
  /** HTTP status; default 200. */
  status?: number;
  /** The `reason` of the error body; default the status text. */
  reason?: string;
  /** The exact body to send instead of generated data or an error. */
  body?: unknown;
  /** Drop the connection without answering. */
  hangUp?: boolean;
  /** Wait this long before answering, instead of the server's latency. */
  latencyMs?: number;
}

/** How to start {@link startFakeOpenMeteo}. */
export interface FakeOpenMeteoOptions {
  /** Port on 127.0.0.1; default 0, a free one. */
  port?: number;
  /** Delay before every answer, in milliseconds; default 0. */
  latencyMs?: number;
  /** Forced answers for the first requests; see {@link FakeOpenMeteo.setScript}. */
  script?: readonly ScriptedResponse[];
  /**
   * How many complete days before today have no data yet and answer `null` (today never has data), like
   * the real archive, whose newest days lag behind; default 2.
   */
  archiveDelayDays?: number;
  /** The clock deciding "today"; default the system clock. */
  now?: () => Date;
}

/**
 * Which requests to count: every listed query parameter must have exactly the given value, or the predicate
 * must accept the query.
 */
export type RequestMatcher = Readonly<Record<string, string>> | ((query: URLSearchParams) => boolean);

/** A running fake archive. Close it with `close()` or `await using`. */
export interface FakeOpenMeteo extends AsyncDisposable {
  /** The archive endpoint, `http://127.0.0.1:<port>/v1/archive`: pass it as `baseUrl`. */
  readonly url: string;
  /** How many requests reached the archive endpoint, counted on arrival (before any latency). */
  requests(): number;
  /** How many of those requests match. */
  requestsFor(match: RequestMatcher): number;
  /** How many matching requests their client dropped while they waited on latency (a cancelled fetch). */
  droppedFor(match: RequestMatcher): number;
  /** Replaces the queue of forced answers; each request takes the next one, then answers normally. */
  setScript(script: readonly ScriptedResponse[]): void;
  /** Changes the delay before every answer. */
  setLatency(ms: number): void;
  /** Stops listening and drops open connections, including requests still waiting on latency. */
  close(): Promise<void>;
}

const ARCHIVE_PATH = "/v1/archive";
const FIRST_DAY = "1940-01-01";
const DAY_MS = 86_400_000;
const DAILY_UNITS: Readonly<Record<string, string>> = {
  temperature_2m_max: "°C",
  temperature_2m_min: "°C",
  temperature_2m_mean: "°C",
  precipitation_sum: "mm",
};

/**
 * Starts a fake Open-Meteo archive on 127.0.0.1. It validates `latitude`, `longitude`, `start_date`,
 * `end_date`, `timezone` and `daily` like the real one, answering HTTP 400 `{"error": true, "reason": …}`
 * when they are wrong, and otherwise returns daily weather that depends only on the place, the date and the
 * time zone: a seasonal curve set by latitude, day-to-day swings, and dry days between wet spells.
 *
 * @example
 * ```ts
 * await using fake = await startFakeOpenMeteo({ script: [{ status: 503 }] });
 * const url = `${fake.url}?latitude=53.55&longitude=-113.49&start_date=2024-01-01&end_date=2024-01-31`;
 * (await fetch(url)).status; // 503
 * (await fetch(url)).status; // 200
 * fake.requests(); // 2
 * ```
 */
export async function startFakeOpenMeteo(options: FakeOpenMeteoOptions = {}): Promise<FakeOpenMeteo> {
  const now = options.now ?? (() => new Date());
  const archiveDelayDays = options.archiveDelayDays ?? 2;
  let latencyMs = options.latencyMs ?? 0;
  let script = [...(options.script ?? [])];
  const queries: URLSearchParams[] = [];
  const dropped: URLSearchParams[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== ARCHIVE_PATH) {
      send(res, 404, { error: true, reason: `No endpoint ${url.pathname}` });
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, { error: true, reason: `Method ${req.method} not allowed` });
      return;
    }
    queries.push(url.searchParams);
    const scripted = script.shift();
    const delay = scripted?.latencyMs ?? latencyMs;
    const answer = () => reply(req, res, url.searchParams, scripted, now(), archiveDelayDays);
    if (delay <= 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, delay);
    timers.add(timer);
    res.once("close", () => {
      if (timers.has(timer)) dropped.push(url.searchParams);
      clearTimeout(timer);
      timers.delete(timer);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://127.0.0.1:${port}${ARCHIVE_PATH}`,
    requests: () => queries.length,
    requestsFor: (match) => queries.filter((query) => matches(query, match)).length,
    droppedFor: (match) => dropped.filter((query) => matches(query, match)).length,
    setScript: (next) => {
      script = [...next];
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function matches(query: URLSearchParams, match: RequestMatcher): boolean {
  if (typeof match === "function") return match(query);
  return Object.entries(match).every(([key, value]) => query.get(key) === value);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(text);
}

function reply(
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  scripted: ScriptedResponse | undefined,
  now: Date,
  archiveDelayDays: number,
): void {
  if (res.destroyed) return;
  if (scripted?.hangUp) {
    req.socket.destroy();
    return;
  }
  const status = scripted?.status ?? 200;
  if (scripted?.body !== undefined) {
    send(res, status, scripted.body);
  } else if (status >= 400) {
    send(res, status, { error: true, reason: scripted?.reason ?? STATUS_CODES[status] ?? `HTTP ${status}` });
  } else {
    send(res, ...normalAnswer(query, now, archiveDelayDays));
  }
}

function normalAnswer(query: URLSearchParams, now: Date, archiveDelayDays: number): [number, unknown] {
  try {
    return [200, archive(query, now, archiveDelayDays)];
  } catch (error) {
    if (error instanceof BadRequest) return [400, { error: true, reason: error.message }];
    // A bug in the fake: answer rather than crash the test process that hosts it.
    return [500, { error: true, reason: `Fake Open-Meteo failed: ${String(error)}` }];
  }
}

/** A request the real archive would refuse; its message becomes the `reason`. */
class BadRequest extends Error {}

function archive(query: URLSearchParams, now: Date, archiveDelayDays: number): Record<string, unknown> {
  const started = performance.now();
  const latitude = coordinate(query, "latitude", 90);
  const longitude = coordinate(query, "longitude", 180);
  const timezone = timeZone(query, longitude);
  const variables = dailyVariables(query);
  const today = epochDay(todayIn(timezone, now));
  const start = date(query, "start_date", today);
  const end = date(query, "end_date", today);
  if (end < start) throw new BadRequest("End-date must be larger or equals than start-date");

  // Like ERA5-Land, data comes from a 0.1° grid cell, and every number derives from the cell and the date.
  const cell = { latitude: Math.round(latitude * 10) / 10, longitude: Math.round(longitude * 10) / 10 };
  const time: string[] = [];
  const series: Record<string, (number | null)[]> = Object.fromEntries(variables.map((name) => [name, []]));
  for (let day = start; day <= end; day++) {
    time.push(isoDate(day));
    const offsetDays = utcOffsetSeconds(timezone, new Date((day + 0.5) * DAY_MS)) / 86_400;
    const weather = day >= today - archiveDelayDays ? undefined : weatherOn(cell, day - offsetDays);
    for (const name of variables) series[name]?.push(weather?.[name] ?? null);
  }

  const startInstant = new Date((start + 0.5) * DAY_MS);
  return {
    ...cell,
    generationtime_ms: Math.round((performance.now() - started) * 1000) / 1000,
    utc_offset_seconds: utcOffsetSeconds(timezone, startInstant),
    timezone,
    timezone_abbreviation: zoneName(timezone, "short", startInstant),
    elevation: Math.round(1500 * hash(cell.latitude, cell.longitude, "elevation") ** 3),
    ...(variables.length > 0
      ? {
          daily_units: {
            time: "iso8601",
            ...Object.fromEntries(variables.map((name) => [name, DAILY_UNITS[name]])),
          },
          daily: { time, ...series },
        }
      : {}),
  };
}

function coordinate(query: URLSearchParams, key: string, limit: number): number {
  const raw = query.get(key)?.trim();
  if (!raw) throw new BadRequest(`Parameter '${key}' is required`);
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new BadRequest(`Parameter '${key}' must be a number. Given: ${raw}`);
  if (Math.abs(value) > limit) {
    const label = key === "latitude" ? "Latitude" : "Longitude";
    throw new BadRequest(`${label} must be in range of -${limit} to ${limit}°. Given: ${value.toFixed(1)}.`);
  }
  return value;
}

/**
 * No timezone means GMT, as on the real archive. The real archive resolves "auto" to the civil zone of the
 * place; without a zone map, the fake picks the nautical zone of the longitude (15° per hour) and names it
 * in the answer, as the real one names the zone it picked.
 */
function timeZone(query: URLSearchParams, longitude: number): string {
  const raw = query.get("timezone")?.trim();
  if (!raw) return "GMT";
  if (raw.toLowerCase() === "auto") {
    const hours = Math.round(longitude / 15);
    // POSIX signs: Etc/GMT+7 is seven hours behind UTC.
    return hours === 0 ? "GMT" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
  }
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: raw });
  } catch {
    throw new BadRequest(`Invalid timezone '${raw}'`);
  }
  return raw;
}

function dailyVariables(query: URLSearchParams): string[] {
  const names = (query.get("daily") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of names) {
    if (!(name in DAILY_UNITS)) {
      throw new BadRequest(`Cannot initialize DailyVariable from invalid String value ${name} for key daily`);
    }
  }
  return names;
}

function date(query: URLSearchParams, key: string, today: number): number {
  const raw = query.get(key)?.trim();
  if (!raw) throw new BadRequest(`Parameter '${key}' is required`);
  const invalid = new BadRequest(`Invalid date '${raw}' for parameter '${key}'. Use the format YYYY-MM-DD.`);
  const outOfRange = new BadRequest(
    `Parameter '${key}' is out of allowed range from ${FIRST_DAY} to ${isoDate(today)}`,
  );
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!match) throw invalid;
  // Checked before parsing: Date.UTC reads years below 100 as 19xx.
  if (raw < FIRST_DAY) throw outOfRange;
  const value = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / DAY_MS;
  if (isoDate(value) !== raw) throw invalid;
  if (value > today) throw outOfRange;
  return value;
}

function epochDay({ year, month, day }: { year: number; month: number; day: number }): number {
  return Date.UTC(year, month - 1, day) / DAY_MS;
}

function isoDate(epochDay: number): string {
  return new Date(epochDay * DAY_MS).toISOString().slice(0, 10);
}

function todayIn(timeZone: string, now: Date): { year: number; month: number; day: number } {
  const parts = formatter(timeZone, undefined).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return { year: part("year"), month: part("month"), day: part("day") };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string, timeZoneName: "longOffset" | "short" | undefined): Intl.DateTimeFormat {
  const key = `${timeZone} ${timeZoneName}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      ...(timeZoneName ? { timeZoneName } : { year: "numeric", month: "numeric", day: "numeric" }),
    });
    formatters.set(key, format);
  }
  return format;
}

function zoneName(timeZone: string, style: "longOffset" | "short", at: Date): string {
  return (
    formatter(timeZone, style)
      .formatToParts(at)
      .find((part) => part.type === "timeZoneName")?.value ?? "GMT"
  );
}

function utcOffsetSeconds(timeZone: string, at: Date): number {
  const match = /^GMT([+-])(\d{2}):(\d{2})$/.exec(zoneName(timeZone, "longOffset", at));
  if (!match) return 0;
  return (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 3600 + Number(match[3]) * 60);
}

/** A deterministic number in [0, 1) for its arguments (FNV-1a, then murmur3's finalizer to spread bits). */
function hash(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const char of parts.join("|")) {
    const code = char.codePointAt(0);
    // A string's iterator yields whole code points, never an empty string.
    if (code === undefined) throw new Error("hash: the string iterator yielded an empty character");
    h ^= code;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * Smooth noise in [-1, 1] over time `t` (days): random values every `period` days, eased between, so that
 * weather comes in spells of a few days rather than independent daily dice rolls.
 */
function smooth(cell: Cell, channel: string, t: number, period: number): number {
  const k = Math.floor(t / period);
  const f = t / period - k;
  const a = hash(cell.latitude, cell.longitude, channel, k) * 2 - 1;
  const b = hash(cell.latitude, cell.longitude, channel, k + 1) * 2 - 1;
  return a + (b - a) * ((1 - Math.cos(Math.PI * f)) / 2);
}

interface Cell {
  latitude: number;
  longitude: number;
}

/**
 * The weather of the local day starting at `t` (days since 1970-01-01 UTC, fractional when the time zone is
 * not UTC, which is how the zone shifts the numbers).
 */
function weatherOn(cell: Cell, t: number): Record<string, number> {
  const { latitude } = cell;
  const absLatitude = Math.abs(latitude);
  const noon = t + 0.5;
  const climate = hash(cell.latitude, cell.longitude, "climate");
  const continental = hash(cell.latitude, cell.longitude, "continental");

  const annualMean = 27 - 0.0072 * latitude ** 2 + 4 * (climate - 0.5);
  // Coldest around 20 January in the north, 20 July in the south; the swing grows away from the equator.
  const localSeason = -Math.cos((2 * Math.PI * (noon - 19)) / 365.2425) * Math.sign(latitude);
  const seasonalSwing = Math.min(22, (0.2 + 0.1 * continental) * absLatitude);
  // Day-to-day swings are larger away from the tropics, and larger in winter than in summer.
  const variability = (1 + 0.2 * absLatitude) * (1 - 0.35 * localSeason);
  const anomaly =
    variability *
    (0.55 * smooth(cell, "synoptic", noon, 5) +
      0.3 * smooth(cell, "front", noon, 2) +
      0.15 * smooth(cell, "day", noon, 1));
  const mean = annualMean + seasonalSwing * localSeason + anomaly;

  // Wet days come in spells; the threshold on the (roughly normal, sd ≈ 0.35) wetness gives `wetChance`.
  const wetChance = Math.min(0.65, 0.28 + 0.3 * Math.exp(-((latitude / 18) ** 2)) + 0.15 * (climate - 0.5));
  const wetness = (smooth(cell, "wet", noon, 3) + smooth(cell, "shower", noon, 1)) / 2;
  const wetAbove = 0.9 * (0.5 - wetChance);
  const wet = wetness > wetAbove;
  const heavy = 5 + 11 * Math.exp(-((latitude / 25) ** 2));
  const amount = wet
    ? heavy *
      -Math.log(1 - 0.97 * hash(cell.latitude, cell.longitude, "amount", Math.floor(noon))) *
      (0.5 + (wetness - wetAbove))
    : 0;

  const range = 6 + 6 * continental + 1.5 * smooth(cell, "clouds", noon, 1) - (wet ? 3 : 0);
  const max = round1(mean + range / 2);
  const min = round1(mean - range / 2);
  return {
    temperature_2m_max: max,
    temperature_2m_min: min,
    temperature_2m_mean: round1((max + min) / 2),
    precipitation_sum: round1(amount),
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10 + 0;
}
