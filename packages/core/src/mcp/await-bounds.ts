/**
 * How long an await call blocks: the definition's own default, else `ASYNC_TOOLS_AWAIT_SECONDS` (so a host's
 * tool-call timeout can be met without code), else 45 s; never more than the definition's maximum.
 */

import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool } from "../define.ts";
import { AsyncToolsError } from "../errors.ts";

export const AWAIT_SECONDS_ENV = "ASYNC_TOOLS_AWAIT_SECONDS";

/** The default and the maximum blocking of an await tool over `tools`, in ms. */
export function awaitBounds(
  tools: readonly AnyAsyncTool[],
  env: NodeJS.ProcessEnv = process.env,
): { defaultMs: number; maxMs: number } {
  const maxMs = tools.length === 0 ? DEFAULTS.awaitMaxMs : Math.min(...tools.map((t) => t.await.maxMs));
  const own = tools.length === 1 ? tools[0]?.await.defaultMs : undefined;
  const defaultMs = own ?? fromEnv(env) ?? DEFAULTS.awaitDefaultMs;
  return { defaultMs: Math.min(defaultMs, maxMs), maxMs };
}

function fromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[AWAIT_SECONDS_ENV]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const seconds = Number(raw);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new AsyncToolsError(
      "INVALID_CONFIG",
      `${AWAIT_SECONDS_ENV} must be a positive number of seconds, e.g. 25; it is ${JSON.stringify(raw.slice(0, 20))}.`,
    );
  }
  return seconds * 1000;
}
