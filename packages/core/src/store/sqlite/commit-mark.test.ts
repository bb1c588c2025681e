/**
 * A store whose WAL was damaged after a crash: SQLite silently replays only the frames before the damage, so
 * without a check the store would open without the jobs acknowledged since the last checkpoint. Real child
 * processes, real SIGKILL, real files.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AsyncToolsError } from "../../errors.ts";
import { COMMIT_MODULUS, checkCommits } from "./commit-mark.ts";
import { SqliteNetwork, type SqliteNetworkOptions } from "./sqlite-network.ts";

const JOBS = 50;
const dirs: string[] = [];
const networks: SqliteNetwork[] = [];

afterEach(async () => {
  for (const network of networks.splice(0)) await network.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-commit-mark-"));
  dirs.push(dir);
  return join(dir, "store.db");
}

/**
 * A child process opens the store, has {@link JOBS} promises created and acknowledged one by one, reports
 * `ready` once `ready` says so, and is SIGKILLed: nothing is checkpointed at close.
 */
async function acknowledgeThenKill(path: string, options: Partial<SqliteNetworkOptions> = {}): Promise<void> {
  const module = pathToFileURL(join(import.meta.dirname, "sqlite-network.ts")).href;
  const script = `
    const { SqliteNetwork } = await import(${JSON.stringify(module)});
    const options = JSON.parse(process.env.OPTIONS);
    const network = await SqliteNetwork.open({ path: process.env.STORE_PATH, tickMs: 0, ...options });
    for (let n = 0; n < ${JOBS}; n++) {
      const data = { id: "job-" + n, timeoutAt: Date.now() + 3600000, param: {}, tags: {} };
      await network.send({ kind: "promise.create", head: { corrId: "c" + n, version: "" }, data });
    }
    // With a checkpoint interval, wait for the checkpoint that copies every acknowledged commit into the store
    // file (its own count, not the file's size: under load a checkpoint may already have run inside the loop).
    const persistence = network.persistence;
    const settled = () => options.checkpointMs === undefined || persistence.checkpointed === persistence.commits;
    const timer = setInterval(() => { if (settled()) { clearInterval(timer); process.stdout.write("ready\\n"); } }, 20);
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
    env: { ...process.env, STORE_PATH: path, OPTIONS: JSON.stringify(options), ASYNC_TOOLS_LOG: "silent" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk) => {
        if (String(chunk).includes("ready")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the child exited with ${code}: ${stderr}`)));
    });
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

/** How many of the acknowledged promises the store holds when opened. */
async function survivors(path: string): Promise<number> {
  const network = await SqliteNetwork.open({ path, tickMs: 0 });
  networks.push(network);
  let found = 0;
  for (let n = 0; n < JOBS; n++) {
    const response = await network.send({
      kind: "promise.get",
      head: { corrId: randomUUID(), version: "" },
      data: { id: `job-${n}` },
    } as never);
    if (response.head.status === 200) found++;
  }
  return found;
}

/** The bytes of the store's files, to prove a refusal left them untouched. */
function snapshot(path: string): string[] {
  return [path, `${path}-wal`].map((file) =>
    existsSync(file) ? readFileSync(file).toString("base64") : "missing",
  );
}

async function refusal(path: string): Promise<AsyncToolsError> {
  const error = await SqliteNetwork.open({ path, tickMs: 0 }).then(
    async (network) => {
      networks.push(network);
      return new Error("the store opened");
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(AsyncToolsError);
  return error as AsyncToolsError;
}

describe("a damaged WAL", () => {
  it("keeps every acknowledged commit across a SIGKILL when the WAL is intact", async () => {
    const path = storePath();
    await acknowledgeThenKill(path);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    expect(await survivors(path)).toBe(JOBS);
  });

  it.each([
    ["a damaged header", (wal: string) => writeFileSync(wal, Buffer.alloc(32, 0xff), { flag: "r+" })],
    ["a truncated WAL", (wal: string) => truncateSync(wal, Math.floor(statSync(wal).size / 2))],
    ["a missing WAL", (wal: string) => rmSync(wal)],
  ])("refuses to open with STORE_CORRUPT after %s, leaving the files untouched", async (_, damage) => {
    const path = storePath();
    await acknowledgeThenKill(path);
    damage(`${path}-wal`);
    const before = snapshot(path);
    const error = await refusal(path);
    expect(error.code).toBe("STORE_CORRUPT");
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/acknowledged/);
    expect(snapshot(path)).toEqual(before);
    // Refused again, the same way: nothing was repaired behind the user's back.
    expect((await refusal(path)).code).toBe("STORE_CORRUPT");
  });

  it("opens with what the store holds once the user deletes the mark, as the refusal says", async () => {
    const path = storePath();
    await acknowledgeThenKill(path);
    truncateSync(`${path}-wal`, Math.floor(statSync(`${path}-wal`).size / 2));
    const error = await refusal(path);
    expect(error.message).toContain(`${path}-commits`);
    rmSync(`${path}-commits`);
    const kept = await survivors(path);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(JOBS);
  });

  it("loses nothing to a lost WAL once the checkpoint interval has passed", async () => {
    const path = storePath();
    await acknowledgeThenKill(path, { checkpointMs: 50 });
    rmSync(`${path}-wal`, { force: true });
    expect(await survivors(path)).toBe(JOBS);
  });

  it("tells commits lost from a count that wrapped past the header's 31 bits", () => {
    const path = storePath();
    const mark = (n: number) => writeFileSync(`${path}-commits`, `${n}\n`);
    mark(COMMIT_MODULUS + 5);
    expect(() => checkCommits(path, 5)).not.toThrow();
    expect(() => checkCommits(path, 9)).not.toThrow();
    expect(() => checkCommits(path, 3)).toThrow(/its last 2 commits/);
    mark(COMMIT_MODULUS - 1);
    expect(() => checkCommits(path, 2)).not.toThrow();
    expect(() => checkCommits(path, COMMIT_MODULUS - 4)).toThrow(/its last 3 commits/);
  });
});
