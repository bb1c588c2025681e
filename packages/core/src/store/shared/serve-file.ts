/**
 * The file beside a store that tells the processes of this machine where its owner serves it and with which
 * token: `<store>.serve.json`, readable only by its user (mode 0600), so no other local user can reach it.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";

/** What the serve file holds. */
export interface ServeInfo {
  /** The base URL of the served store (loopback). */
  url: string;
  /** The bearer token every request must carry. */
  token: string;
  /** The owner's Resonate process id, so the next owner knows whose work to resume. */
  pid: string;
}

const FORMAT = "async-tools-store-serve";

/** Where the serve file of the store at `storePath` lives. */
export function serveFilePath(storePath: string): string {
  return `${storePath}.serve.json`;
}

/** Reads the serve file; `undefined` when it is missing or unreadable (no owner has served yet). */
export function readServeFile(storePath: string): ServeInfo | undefined {
  try {
    const parsed = JSON.parse(readFileSync(serveFilePath(storePath), "utf8")) as Partial<ServeInfo> & {
      format?: string;
    };
    if (parsed.format !== FORMAT) return undefined;
    if (typeof parsed.url !== "string" || typeof parsed.token !== "string" || typeof parsed.pid !== "string")
      return undefined;
    return { url: parsed.url, token: parsed.token, pid: parsed.pid };
  } catch {
    return undefined;
  }
}

/** Writes the serve file atomically with mode 0600 (a reader never sees half a file). */
export function writeServeFile(storePath: string, info: ServeInfo): void {
  const file = serveFilePath(storePath);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ format: FORMAT, ...info }, null, 2)}\n`, { mode: 0o600 });
  // The mode of `writeFileSync` is masked by the umask; this one is not.
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** A fresh random token: 32 bytes, hex. */
export function newToken(): string {
  return randomBytes(32).toString("hex");
}
