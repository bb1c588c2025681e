/**
 * Choosing and opening the store a set of tools runs on: the embedded SQLite file (default; shared by every
 * process of this machine that opens it), memory, a Resonate Server or `async-tools store serve` over HTTP,
 * Resonate's Postgres schema, or a ready `Network` object.
 */
import { randomUUID } from "node:crypto";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { HttpNetwork, type Network, PollMessageSource } from "@resonatehq/sdk";
import { AsyncToolsError } from "../errors.ts";
import {
  checkPostgres,
  type PostgresOptions,
  postgresNetwork,
  postgresReplica,
} from "./postgres/postgres-store.ts";
import { resonateRequest } from "./protocol.ts";
import { ProtocolClient } from "./remote/protocol-client.ts";
import { RemoteJobIndex } from "./remote/remote-job-index.ts";
import { RemoteStepLog } from "./remote/remote-step-log.ts";
import { settledOn } from "./settled-jobs.ts";
import { openSharedStore } from "./shared/shared-store.ts";
import { JobMeta } from "./sqlite/job-meta.ts";
import { SqliteNetwork } from "./sqlite/sqlite-network.ts";
import { StepLog } from "./sqlite/step-log.ts";
import type { JobIndex, OpenStoreOptions, StepRecords, Store } from "./store.ts";

/** What `store` (or `ASYNC_TOOLS_STORE`) may say, parsed. */
export type StoreLocation =
  | { kind: "sqlite"; path: string }
  | { kind: "memory" }
  | { kind: "http"; url: string }
  | { kind: "postgres"; url: string };

const ACCEPTED = [
  "sqlite:<path> or a plain file path (the default: an embedded, durable SQLite file)",
  "memory (nothing survives a restart; for tests)",
  "http(s)://host:port (a Resonate Server; RESONATE_TOKEN is sent as a bearer token)",
  "postgres://user:pass@host/db (Resonate's Postgres schema; needs the `pg` package)",
].join("; ");

/**
 * The default store file: `async-tools/<name>/jobs.db` under the user's data directory (`$XDG_DATA_HOME`,
 * `~/.local/share`, `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows), so different
 * servers get different stores; `async-tools/jobs.db` without a name.
 */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env, name?: string): string {
  let base: string;
  if (env.XDG_DATA_HOME) base = env.XDG_DATA_HOME;
  else if (process.platform === "darwin") base = join(homedir(), "Library", "Application Support");
  else if (process.platform === "win32") base = env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local");
  else base = join(homedir(), ".local", "share");
  const folder = name === undefined ? undefined : safeName(name);
  return folder === undefined
    ? join(base, "async-tools", "jobs.db")
    : join(base, "async-tools", folder, "jobs.db");
}

/** A server name as a directory name: letters, digits, `.`, `_` and `-`; `undefined` when nothing is left. */
function safeName(name: string): string | undefined {
  const safe = name
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[.-]+|-+$/g, "");
  return safe === "" ? undefined : safe.slice(0, 100);
}

/**
 * Parses a store location. `undefined` falls back to `ASYNC_TOOLS_STORE`, then `RESONATE_URL` (as the
 * Resonate SDK documents it), then the default file.
 *
 * @throws AsyncToolsError `INVALID_STORE` listing the accepted forms.
 */
export function parseStore(
  spec: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  name?: string,
): StoreLocation {
  const raw = (spec ?? env.ASYNC_TOOLS_STORE ?? "").trim();
  if (raw === "") {
    const resonateUrl = env.RESONATE_URL?.trim();
    if (resonateUrl) return parseStore(resonateUrl, {});
    return { kind: "sqlite", path: defaultStorePath(env, name) };
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

/**
 * Opens the store a location names, failing fast (and clearly) when it cannot be reached. A store file
 * another process of this machine owns is joined, not refused.
 */
export async function openStore(
  spec: string | Network | undefined,
  options: OpenStoreOptions,
): Promise<Store> {
  if (spec !== undefined && typeof spec !== "string") {
    return single(
      { kind: "custom", description: "a Network passed in code", durable: true },
      spec,
      new JobMeta(),
      new StepLog(),
    );
  }
  const location = parseStore(spec, process.env, options.name);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  switch (location.kind) {
    case "sqlite":
      return openSharedStore({
        path: location.path,
        pid: options.pid,
        group: options.group,
        logger: options.logger,
        retentionMs: options.retentionMs,
        ...(options.durability ? { durability: options.durability } : {}),
        ...(options.sharing ? { sharing: options.sharing } : {}),
      });
    case "memory": {
      const network = await SqliteNetwork.open({
        path: ":memory:",
        pid: options.pid,
        group: options.group,
        retentionMs: options.retentionMs,
      });
      const jobs = new JobMeta(network.db, "memory", network);
      const steps = new StepLog(network.db, network);
      return {
        ...single(
          { kind: "memory", description: "memory (not durable)", durable: false },
          network,
          jobs,
          steps,
        ),
        role: "owner",
        gc: (now, retentionMs) => network.gc(now, retentionMs),
        recover: () => network.recover(),
      };
    }
    case "http": {
      const token = storeToken(process.env);
      const adapter = new PollMessageSource({
        url: `${location.url}/poll/${encodeURIComponent(options.group)}/${encodeURIComponent(options.pid)}`,
        logger: options.logger,
        ...(token === undefined ? {} : { token }),
      });
      const network = new HttpNetwork({
        url: location.url,
        timeout: timeoutMs,
        adapter,
        logger: options.logger,
        ...(token === undefined ? {} : { token }),
      });
      await reachable(network, redact(location.url), timeoutMs);
      // `async-tools store serve` holds the job index too; a Resonate Server does not, so then it stays here.
      const client = new ProtocolClient({
        url: location.url,
        timeoutMs,
        ...(token === undefined ? {} : { token }),
      });
      const shared = await client.jobs("asyncTools.jobs.get", { id: "async-tools-ping" }).then(
        () => true,
        () => false,
      );
      const jobs: JobIndex = shared ? new RemoteJobIndex(client) : new JobMeta();
      const steps: StepRecords = shared ? new RemoteStepLog(client) : new StepLog();
      return single({ kind: "http", description: redact(location.url), durable: true }, network, jobs, steps);
    }
    case "postgres": {
      const where = redact(location.url);
      try {
        await withTimeout(checkPostgres(location.url, where), timeoutMs);
      } catch (cause) {
        if (cause instanceof AsyncToolsError) throw cause;
        const message = cause instanceof Error ? cause.message : String(cause);
        throw new AsyncToolsError(
          "STORE_UNREACHABLE",
          `Cannot use the Postgres store ${where}: ${message}. Check that Postgres runs and the URL is right.`,
          { cause },
        );
      }
      const network = await postgresNetwork({
        url: location.url,
        pid: options.pid,
        group: options.group,
        logger: options.logger,
        postgres: options.postgres,
      });
      try {
        await withTimeout(network.init(), timeoutMs);
      } catch (cause) {
        await network.stop().catch(() => undefined);
        const message = cause instanceof Error ? cause.message : String(cause);
        throw new AsyncToolsError(
          "STORE_UNREACHABLE",
          `Cannot use the Postgres store ${where}: ${message}.`,
          {
            cause,
          },
        );
      }
      await reachable(network, where, timeoutMs);
      const index = await postgresReplica(location.url, {
        pid: options.pid,
        group: options.group,
        retentionMs: options.retentionMs,
        postgres: options.postgres,
      });
      const store = single(
        { kind: "postgres", description: where, durable: true },
        network,
        index.jobs,
        index.steps,
      );
      return {
        ...store,
        settled: (ids) => index.jobs.settled(ids),
        slots: index.slots,
        close: async () => {
          await store.close();
          await index.close();
        },
      };
    }
  }
}

/**
 * The token sent to an `http(s)://` store: `ASYNC_TOOLS_STORE_TOKEN`, else `RESONATE_TOKEN` (what the
 * Resonate SDK reads for a Resonate Server).
 */
export function storeToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = (env.ASYNC_TOOLS_STORE_TOKEN ?? env.RESONATE_TOKEN)?.trim();
  return token === undefined || token === "" ? undefined : token;
}

/** A store one process holds alone: nothing to share, nothing to take over. */
function single(
  about: Pick<Store, "kind" | "description" | "durable">,
  network: Network,
  jobs: JobMeta | RemoteJobIndex | JobIndex,
  steps: StepRecords,
): Store {
  return {
    ...about,
    role: "remote",
    network,
    jobs,
    steps,
    settled: (ids) => (jobs instanceof RemoteJobIndex ? jobs.settledJobs(ids) : settledOn(network, ids)),
    recover: () => undefined,
    close: async () => {
      await jobs.flush().catch(() => undefined);
      if (steps instanceof RemoteStepLog) await steps.settled();
      // Before the store closes: a step log on the store's connection writes what it queued first.
      steps.close();
      if (jobs instanceof JobMeta) jobs.closeIfPrivate(about.kind === "memory");
      await network.stop();
    },
  };
}

async function reachable(network: Network, where: string, timeoutMs: number): Promise<void> {
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
