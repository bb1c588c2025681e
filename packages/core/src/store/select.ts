/**
 * Choosing and building the Resonate network a set of tools runs on: the embedded SQLite file (default),
 * memory, a Resonate Server over HTTP, Resonate's Postgres schema, or a ready `Network` object.
 */
import { randomUUID } from "node:crypto";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { HttpNetwork, type Logger, type Network, PollMessageSource } from "@resonatehq/sdk";
import { AsyncToolsError } from "../errors.ts";
import { SqliteNetwork } from "./sqlite-network.ts";

/** What `store` (or `ASYNC_TOOLS_STORE`) may say, parsed. */
export type StoreLocation =
  | { kind: "sqlite"; path: string }
  | { kind: "memory" }
  | { kind: "http"; url: string }
  | { kind: "postgres"; url: string };

/** A built store: the network Resonate runs on, and what else the library needs from it. */
export interface OpenedStore {
  kind: StoreLocation["kind"] | "custom";
  /** Where it is, for the start-up line (credentials removed). */
  description: string;
  network: Network;
  /** The store's own SQLite connection, when it has one, for job metadata. */
  db?: DatabaseSync;
  /** Releases work held by a dead previous owner (embedded stores only). */
  recover?: () => void;
  /** Whether the store survives a restart of this process. */
  durable: boolean;
}

/** Options that shape how a store is opened. */
export interface OpenStoreOptions {
  pid: string;
  group: string;
  logger: Logger;
  retentionMs: number;
  durability?: "normal" | "full";
  /** How long a remote store may take to answer the first request. Default 5000 ms. */
  connectTimeoutMs?: number;
}

const ACCEPTED = [
  "sqlite:<path> or a plain file path (the default: an embedded, durable SQLite file)",
  "memory (nothing survives a restart; for tests)",
  "http(s)://host:port (a Resonate Server; RESONATE_TOKEN is sent as a bearer token)",
  "postgres://user:pass@host/db (Resonate's Postgres schema; needs the `pg` package)",
].join("; ");

/**
 * The default store file: `async-tools/jobs.db` under the user's data directory (`$XDG_DATA_HOME`,
 * `~/.local/share`, `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows).
 */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  let base: string;
  if (env.XDG_DATA_HOME) base = env.XDG_DATA_HOME;
  else if (process.platform === "darwin") base = join(homedir(), "Library", "Application Support");
  else if (process.platform === "win32") base = env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local");
  else base = join(homedir(), ".local", "share");
  return join(base, "async-tools", "jobs.db");
}

/**
 * Parses a store location. `undefined` falls back to `ASYNC_TOOLS_STORE`, then `RESONATE_URL` (as the
 * Resonate SDK documents it), then the default file.
 *
 * @throws AsyncToolsError `INVALID_STORE` listing the accepted forms.
 */
export function parseStore(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const raw = (spec ?? env.ASYNC_TOOLS_STORE ?? "").trim();
  if (raw === "") {
    const resonateUrl = env.RESONATE_URL?.trim();
    if (resonateUrl) return parseStore(resonateUrl, {});
    return { kind: "sqlite", path: defaultStorePath(env) };
  }
  if (raw === "memory" || raw === "memory:") return { kind: "memory" };
  if (raw.startsWith("sqlite:")) {
    const path = raw.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw invalid(raw, "sqlite: needs a file path, e.g. sqlite:./jobs.db");
    return { kind: "sqlite", path: expandHome(path) };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (
      /^[A-Za-z][A-Za-z0-9+.-]*:$/.test(raw) ||
      (/^[A-Za-z]+:[^\\/]/.test(raw) && !/^[A-Za-z]:[\\/]/.test(raw))
    ) {
      throw invalid(raw, "unknown store");
    }
    return { kind: "sqlite", path: expandHome(raw) };
  }
  if (scheme === "http" || scheme === "https") {
    try {
      new URL(raw);
    } catch {
      throw invalid(raw, "not a valid URL");
    }
    return { kind: "http", url: raw.replace(/\/+$/, "") };
  }
  if (scheme === "postgres" || scheme === "postgresql") return { kind: "postgres", url: raw };
  if (scheme === "file") return { kind: "sqlite", path: new URL(raw).pathname };
  throw invalid(raw, `unknown scheme ${scheme}://`);
}

function invalid(raw: string, why: string): AsyncToolsError {
  return new AsyncToolsError(
    "INVALID_STORE",
    `Cannot use store ${JSON.stringify(redact(raw))}: ${why}. Accepted forms: ${ACCEPTED}.`,
  );
}

function expandHome(path: string): string {
  if (path === ":memory:") return path;
  return resolve(path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path);
}

/** A URL without its password, for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

/** Opens the store a location names, failing fast (and clearly) when it cannot be reached. */
export async function openStore(
  spec: string | Network | undefined,
  options: OpenStoreOptions,
): Promise<OpenedStore> {
  if (spec !== undefined && typeof spec !== "string") {
    return { kind: "custom", description: "a Network passed in code", network: spec, durable: true };
  }
  const location = parseStore(spec);
  switch (location.kind) {
    case "sqlite":
    case "memory": {
      const path = location.kind === "memory" ? ":memory:" : location.path;
      const network = await SqliteNetwork.open({
        path,
        pid: options.pid,
        group: options.group,
        retentionMs: options.retentionMs,
        ...(options.durability ? { durability: options.durability } : {}),
      });
      return {
        kind: location.kind,
        description: location.kind === "memory" ? "memory (not durable)" : `sqlite:${location.path}`,
        network,
        db: network.db,
        recover: () => network.recover(),
        durable: location.kind === "sqlite",
      };
    }
    case "http": {
      const adapter = new PollMessageSource({
        url: `${location.url}/poll/${encodeURIComponent(options.group)}/${encodeURIComponent(options.pid)}`,
        logger: options.logger,
      });
      const network = new HttpNetwork({
        url: location.url,
        timeout: options.connectTimeoutMs ?? 5000,
        adapter,
        logger: options.logger,
      });
      await reachable(network, redact(location.url), options.connectTimeoutMs ?? 5000);
      return { kind: "http", description: redact(location.url), network, durable: true };
    }
    case "postgres": {
      let PostgresNetwork: new (cfg: {
        connectionString: string;
        pid?: string;
        group?: string;
        logger?: Logger;
      }) => Network;
      try {
        ({ PostgresNetwork } = (await import("@resonatehq/sdk/postgres")) as unknown as {
          PostgresNetwork: typeof PostgresNetwork;
        });
      } catch (cause) {
        throw new AsyncToolsError("INVALID_STORE", "The postgres store needs @resonatehq/sdk/postgres.", {
          cause,
        });
      }
      const network = new PostgresNetwork({
        connectionString: location.url,
        pid: options.pid,
        group: options.group,
        logger: options.logger,
      });
      const timeoutMs = options.connectTimeoutMs ?? 5000;
      try {
        await withTimeout(network.init(), timeoutMs);
      } catch (cause) {
        await network.stop().catch(() => undefined);
        const message = cause instanceof Error ? cause.message : String(cause);
        const hint = /Cannot find (module|package) 'pg'/.test(message)
          ? "Install the `pg` package next to @async-tools/core."
          : "Check that Postgres runs, the URL is right, and Resonate's schema is installed in that database.";
        throw new AsyncToolsError(
          "STORE_UNREACHABLE",
          `Cannot use the Postgres store ${redact(location.url)}: ${message}. ${hint}`,
          { cause },
        );
      }
      await reachable(network, redact(location.url), timeoutMs);
      return { kind: "postgres", description: redact(location.url), network, durable: true };
    }
  }
}

async function reachable(network: Network, where: string, timeoutMs: number): Promise<void> {
  try {
    const res = await withTimeout(
      network.send({
        kind: "promise.get",
        head: { corrId: randomUUID(), version: "" },
        data: { id: `async-tools-ping-${randomUUID()}` },
      } as Parameters<Network["send"]>[0]),
      timeoutMs,
    );
    const status = (res as { head: { status: number } }).head.status;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
