/**
 * Reaching a store on a server (a Resonate Server, `async-tools store serve`, Postgres): the first request
 * within a time limit, the token it sends, and URLs without their password for logs and errors.
 */
import { randomUUID } from "node:crypto";
import type { Network } from "@resonatehq/sdk";
import { AsyncToolsError } from "../errors.ts";
import { resonateRequest } from "./protocol.ts";

/** A URL without its password, for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

/**
 * The token sent to an `http(s)://` store: `ASYNC_TOOLS_STORE_TOKEN`, else `RESONATE_TOKEN` (what the
 * Resonate SDK reads for a Resonate Server).
 */
export function storeToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = (env.ASYNC_TOOLS_STORE_TOKEN ?? env.RESONATE_TOKEN)?.trim();
  return token === undefined || token === "" ? undefined : token;
}

/**
 * Sends one `promise.get` and fails fast when no protocol answer comes within `timeoutMs`, stopping `network`.
 *
 * @throws AsyncToolsError `STORE_UNREACHABLE` saying what to do.
 */
export async function reachable(network: Network, where: string, timeoutMs: number): Promise<void> {
  try {
    const res = await withTimeout(
      network.send(resonateRequest("promise.get", { id: `async-tools-ping-${randomUUID()}` })),
      timeoutMs,
    );
    const status = res.head.status;
    if (status !== 404 && status !== 200) throw new Error(`unexpected status ${status}`);
  } catch (cause) {
    await network.stop().catch(() => undefined);
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new AsyncToolsError(
      "STORE_UNREACHABLE",
      `The store ${where} did not answer (${message}). Start it, fix the URL, or use the embedded default (unset ASYNC_TOOLS_STORE).`,
      { cause },
    );
  }
}

/** `promise`, or a rejection once `ms` passed without it. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
