/**
 * Three-step job throughput against BullMQ on Redis, the queue a TypeScript author would pick instead: our
 * runtime on the SQLite store (programmatic API, no MCP) against a BullMQ worker whose job runs the same three
 * steps and checkpoints each with `job.updateProgress` (BullMQ's way to record how far a job got), with 1 and
 * 32 submitters each looping submit then wait, at equal durability: Redis without its append-only file and
 * with `appendfsync everysec` (both lose the last writes to a power loss) against our `durability: "normal"`,
 * and `appendfsync always` (a sync before each answer) against our `"full"`, the default. Debian's
 * `redis-server` is started and stopped here, on loopback, once per setting; without it (and no way to install
 * it) the scenario is skipped with a message.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type AsyncTools, createAsyncTools } from "@async-tools/core";
import { freePort } from "@async-tools/test-helpers/net";
import { tempDir } from "@async-tools/test-helpers/temp";
import { versus } from "../lib/rates.ts";
import { fresh, type RunOptions, type ScenarioResult, skippedScenario } from "../lib/scenario.ts";
import { formatTable } from "../lib/stats.ts";
import { threeStepTool } from "../lib/three-steps.ts";
import { deadline, sleep } from "../lib/time.ts";

const threeSteps = threeStepTool("three_step_bench");

/** The path of `redis-server`, installing Debian's package once when it is missing and this is root. */
function redisServer(): string | undefined {
  const find = () => ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p));
  if (find()) return find();
  if (process.getuid?.() !== 0) return undefined;
  try {
    process.stderr.write("bench: installing redis-server (apt-get)...\n");
    execFileSync("apt-get", ["install", "-y", "-q", "redis-server"], { stdio: "ignore", timeout: 300_000 });
  } catch {
    return undefined;
  }
  return find();
}

/** A Redis persistence setting and the durability of ours it is compared with. */
interface Pairing {
  /** How the table names Redis's setting. */
  redis: string;
  /** redis-server's persistence arguments. */
  args: string[];
  ours: "normal" | "full";
}

const PAIRINGS: Pairing[] = [
  { redis: "no AOF", args: ["--appendonly", "no"], ours: "normal" },
  { redis: "AOF everysec", args: ["--appendonly", "yes", "--appendfsync", "everysec"], ours: "normal" },
  { redis: "AOF always", args: ["--appendonly", "yes", "--appendfsync", "always"], ours: "full" },
];

/** Starts redis-server on loopback with its data in `dir` (RDB snapshots off) and persistence `args`. */
async function startRedis(
  binary: string,
  dir: string,
  args: string[],
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", ...args],
    { stdio: "ignore" },
  );
  const until = deadline(10_000);
  for (;;) {
    if (await pong(port)) return { port, child };
    if (until.passed()) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
    }
    await sleep(50);
  }
}

/** Whether a Redis server answers PING on `port`. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/** Measures three-step jobs per second, ours against BullMQ, with 1 and 32 submitters. */
export async function bullmq(options: RunOptions): Promise<ScenarioResult> {
  const name = "bullmq";
  const binary = redisServer();
  if (binary === undefined) {
    const why = "redis-server is not installed and could not be installed (apt-get install redis-server)";
    return skippedScenario(name, "Three-step jobs vs BullMQ", why, [
      "3-step jobs/s >= BullMQ (1 and 32 submitters)",
    ]);
  }
  const rounds = options.quick ? 3 : 5;
  const windowMs = options.quick ? 1_000 : 2_000;
  using dir = tempDir("bench-bullmq");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: ScenarioResult["checks"] = [];
  for (const pairing of PAIRINGS) {
    const measured = await compare(binary, join(dir.path, pairing.redis.replace(/ /g, "-")), pairing, {
      rounds,
      windowMs,
    });
    for (const row of measured.rows) rows.push([pairing.redis, pairing.ours, ...row]);
    for (const figure of measured.figures)
      figures.push({ redis: pairing.redis, ours: pairing.ours, ...figure });
    for (const check of measured.checks)
      checks.push({ ...check, name: `${check.name}, ${pairing.ours} vs ${pairing.redis}` });
  }
  return {
    name,
    table: formatTable(
      `Three-step jobs vs BullMQ ${bullmqVersion()} on redis-server (loopback) at equal durability, ${rounds} interleaved rounds of ${windowMs / 1000} s; median (min-max)`,
      ["Redis", "ours", "submitters", "ours jobs/s", "BullMQ jobs/s", "ours/BullMQ", "ours CPU µs/job"],
      rows,
    ),
    figures: { rounds, window_ms: windowMs, rows: figures },
    checks,
  };
}

/** Ours at `pairing.ours` against BullMQ on a fresh redis-server with `pairing.args`, data in `dir`. */
async function compare(
  binary: string,
  dir: string,
  pairing: Pairing,
  plan: { rounds: number; windowMs: number },
): Promise<Awaited<ReturnType<typeof versus>>> {
  mkdirSync(dir, { recursive: true });
  const { Queue, QueueEvents, Worker } = await import("bullmq");
  const redis = await startRedis(binary, dir, pairing.args);
  const connection = { host: "127.0.0.1", port: redis.port };
  const queue = new Queue("three_step", { connection });
  const events = new QueueEvents("three_step", { connection });
  const worker = new Worker(
    "three_step",
    async (job) => {
      let total = 0;
      for (const step of [1, 2, 3]) {
        total += (job.data.n as number) * step;
        await job.updateProgress({ step, total });
      }
      return { total };
    },
    { connection, concurrency: 64 },
  );
  // Every waiting submitter listens for the queue closing; 32 of them are expected, not a leak.
  queue.setMaxListeners(0);
  events.setMaxListeners(0);
  let tools: AsyncTools | undefined;
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
    tools = await createAsyncTools({
      name: "bench-bullmq",
      store: `sqlite:${join(dir, "jobs.db")}`,
      tools: [threeSteps],
      durability: pairing.ours,
    });
    const runtime = tools;
    const ours = async () => {
      const started = await runtime.start(threeSteps, { n: fresh() });
      const [job] = await runtime.wait([started.jobId], { timeoutMs: 30_000 });
      if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
    };
    const theirs = async () => {
      const job = await queue.add(
        "three_step",
        { n: fresh() },
        { removeOnComplete: 1000, removeOnFail: 1000 },
      );
      await job.waitUntilFinished(events, 30_000);
    };
    return await versus("bullmq", "BullMQ on Redis", { ...plan, cpuColumn: true }, ours, theirs);
  } finally {
    await tools?.close();
    await worker.close();
    await events.close();
    await queue.close();
    redis.child.kill("SIGTERM");
    await new Promise((resolve) => redis.child.once("exit", resolve));
  }
}

function bullmqVersion(): string {
  try {
    const manifest = join(import.meta.dirname, "..", "..", "node_modules", "bullmq", "package.json");
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "5";
  }
}
