/**
 * How the CLI reaches a store: the one `--store` names, else `ASYNC_TOOLS_STORE`, else the default file, opened
 * as a runtime without tools (it looks at jobs and queues work, it runs none). A store file that a running
 * server owns is joined, like any other process of this machine joins it; only an owner that does not answer
 * its peers (a hung process, an older version) is refused, and the CLI then says which process holds it.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { AsyncToolsError } from "../errors.ts";
import { type AsyncTools, createAsyncTools } from "../runtime/runtime.ts";
import { defaultStorePath, parseStore } from "../store/select.ts";
import { CliError, EXIT } from "./command.ts";

/** The store spec the CLI uses: `--store`, then `ASYNC_TOOLS_STORE`, then `RESONATE_URL`, then the default file. */
export function storeSpec(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.ASYNC_TOOLS_STORE ?? env.RESONATE_URL ?? defaultStorePath(env);
}

/**
 * Opens `spec` for the CLI. A SQLite file that does not exist is refused rather than created, since the CLI
 * never makes a store; one a running server owns is joined; one whose owner does not answer throws a
 * {@link CliError} that names the owner.
 */
export async function openForCli(spec: string, env: NodeJS.ProcessEnv): Promise<AsyncTools> {
  const location = parseStore(spec, env);
  if (location.kind === "sqlite" && !existsSync(location.path)) {
    throw new CliError(
      `No store at ${location.path}. Pass --store PATH (or set ASYNC_TOOLS_STORE) to the store your server uses.`,
    );
  }
  try {
    // A group of its own: a server never hands the CLI (which runs no tools) a job to run.
    return await createAsyncTools({
      tools: [],
      store: spec,
      name: "async-tools-cli",
      group: "async-tools-cli",
    });
  } catch (error) {
    if (error instanceof AsyncToolsError && error.code === "STORE_LOCKED" && location.kind === "sqlite") {
      throw new CliError(lockedMessage(location.path), EXIT.storeLocked);
    }
    if (error instanceof AsyncToolsError) throw new CliError(error.message);
    throw error;
  }
}

/** What to say when the process that owns `path` does not let the CLI join it. */
export function lockedMessage(path: string): string {
  const owners = processesHolding(path);
  const who =
    owners.length === 0
      ? "another process"
      : owners.map((o) => `process ${o.pid}${o.command ? ` (${o.command})` : ""}`).join(", ");
  return (
    `The store ${path} is owned by ${who}, which does not answer the processes that join it ` +
    "(an older async-tools version, or a hung process). Stop it and run the command again."
  );
}

/** Processes with `path` open, found through /proc on Linux; empty elsewhere or when unreadable. */
export function processesHolding(path: string): { pid: number; command?: string }[] {
  if (process.platform !== "linux") return [];
  const found: { pid: number; command?: string }[] = [];
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let command: string | undefined;
    try {
      const [exe, ...args] = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      command = [basename(exe ?? ""), ...args].join(" ").slice(0, 200);
    } catch {
      command = undefined;
    }
    found.push({ pid: Number(pid), ...(command ? { command } : {}) });
  }
  return found;
}
