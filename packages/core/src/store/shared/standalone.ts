/**
 * `async-tools store serve`: one process that owns a store file and serves it, and runs no jobs itself, for
 * several servers or replicas on one host (`ASYNC_TOOLS_STORE=http://127.0.0.1:N` in each).
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { log } from "../../internal/log.ts";
import { openEmbedded } from "../sqlite/open.ts";
import { serveStore } from "./http-server.ts";
import { newToken, readServeFile, writeServeFile } from "./serve-file.ts";
import { SHARING_DEFAULTS } from "./shared-store.ts";

/** Options of {@link serveStoreFile}. */
export interface ServeStoreFileOptions {
  /** The store file. */
  path: string;
  /** Port on 127.0.0.1 (or `host`); 0 picks a free one. */
  port?: number;
  host?: string;
  /** The bearer token; default: the one in the serve file beside the store, else a new random one. */
  token?: string;
  /** How long finished jobs are kept, in ms. */
  retentionMs?: number;
}

/** A running `store serve`. */
export interface ServedStoreFile {
  url: string;
  token: string;
  path: string;
  close(): Promise<void>;
}

/**
 * Opens the store file and serves it until closed; processes of this machine that open the same file join
 * it as they would join any owner.
 *
 * @throws AsyncToolsError `STORE_LOCKED` when another process owns the file.
 */
export async function serveStoreFile(options: ServeStoreFileOptions): Promise<ServedStoreFile> {
  const path = resolve(options.path);
  const pid = `store-serve-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const previous = readServeFile(path);
  const token = options.token ?? previous?.token ?? newToken();
  const embedded = await openEmbedded(
    { path, pid, ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }) },
    `sqlite:${path}`,
  );
  const { network, jobs, steps } = embedded;
  const server = await serveStore({
    network,
    jobs,
    steps,
    token,
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    graceMs: SHARING_DEFAULTS.graceMs,
    replayMs: SHARING_DEFAULTS.replayMs,
    maxBodyBytes: SHARING_DEFAULTS.maxBodyBytes,
  }).catch(async (error: unknown) => {
    await embedded.close();
    throw error;
  });
  writeServeFile(path, { url: server.url, token, pid });
  // The processes that held work when the file was opened get the grace period to come back.
  const holders = network.holders();
  network.recover((holder) => holders.has(holder));
  for (const holder of holders) server.router.expect("default", holder);
  log("info", "store served", { store: path, url: server.url });
  return {
    url: server.url,
    token,
    path,
    close: async () => {
      await server.close();
      await embedded.close();
    },
  };
}
