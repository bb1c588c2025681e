/**
 * Choosing the store a set of tools runs on: parses the spec and calls the one `open…` of its backend: the
 * embedded SQLite file (default; shared by every process of this machine that opens it: `shared/`), memory
 * (`sqlite/`), a Resonate Server or `async-tools store serve` over HTTP, or a ready `Network` object
 * (`remote/`), Resonate's Postgres schema (`postgres/`). Each backend's store closes itself.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Network } from "@resonatehq/sdk";
import { AsyncToolsError } from "../errors.ts";
import { redact } from "./connect.ts";
import { openPostgresStore } from "./postgres/open.ts";
import { networkStore, openRemoteStore } from "./remote/open.ts";
import { openSharedStore } from "./shared/shared-store.ts";
import { openMemoryStore } from "./sqlite/open.ts";
import type { OpenStoreOptions, Store } from "./store.ts";

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

/**
 * Opens the store a location names, failing fast (and clearly) when it cannot be reached. A store file
 * another process of this machine owns is joined, not refused.
 */
export async function openStore(
  spec: string | Network | undefined,
  options: OpenStoreOptions,
): Promise<Store> {
  if (spec !== undefined && typeof spec !== "string") return networkStore(spec);
  const location = parseStore(spec, process.env, options.name);
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
    case "memory":
      return openMemoryStore(options);
    case "http":
      return openRemoteStore(location.url, options);
    case "postgres":
      return openPostgresStore(location.url, options);
  }
}
