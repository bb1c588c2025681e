/**
 * Where the demo's weather comes from: the real Open-Meteo archive when it answers a tiny query within a few
 * seconds, otherwise (or with `--offline`) the local fake archive, slowed down so progress is visible.
 */

import { type FakeOpenMeteo, startFakeOpenMeteo } from "../../test/support/fake-open-meteo.ts";
import { archiveUrlFromEnv } from "../open-meteo/client.ts";

/** How long the reachability check waits for Open-Meteo. */
const CHECK_TIMEOUT_MS = 3000;

/** The fake's delay per request when no scripted latency applies. */
export const FAKE_LATENCY_MS = 1500;

/** The archive the server will use. */
export type Upstream =
  | { kind: "online"; url: string }
  | { kind: "offline"; url: string; fake: FakeOpenMeteo; why: string };

/**
 * Why `url` cannot serve a one-day query within `timeoutMs`, or `undefined` when it can.
 *
 * @example
 * ```ts
 * await unreachableReason("https://archive-api.open-meteo.com/v1/archive"); // undefined when online
 * ```
 */
export async function unreachableReason(
  url: string,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<string | undefined> {
  const query = new URL(url);
  query.searchParams.set("latitude", "51.05");
  query.searchParams.set("longitude", "-114.07");
  query.searchParams.set("start_date", "2024-01-01");
  query.searchParams.set("end_date", "2024-01-01");
  query.searchParams.set("daily", "temperature_2m_max");
  try {
    const response = await fetch(query, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok ? undefined : `it answered HTTP ${response.status}`;
  } catch (error) {
    if (error instanceof Error && error.name === "TimeoutError")
      return `no answer within ${timeoutMs / 1000} s`;
    // undici says "fetch failed" and keeps the useful part (ENOTFOUND, ECONNREFUSED) in `cause`.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    return cause instanceof Error ? cause.message : String(cause);
  }
}

/**
 * Picks the archive: `OPEN_METEO_ARCHIVE_URL` or Open-Meteo's when reachable and `offline` is false, else
 * a fake on 127.0.0.1 (which the caller must close).
 */
export async function chooseUpstream(offline: boolean): Promise<Upstream> {
  const url = archiveUrlFromEnv();
  const why = offline ? "--offline" : await unreachableReason(url);
  if (why === undefined) return { kind: "online", url };
  const fake = await startFakeOpenMeteo({ latencyMs: FAKE_LATENCY_MS });
  return { kind: "offline", url: fake.url, fake, why };
}
