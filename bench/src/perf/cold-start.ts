/**
 * Cold start, which every host pays when it spawns a stdio server: from spawn to the answer of the first
 * `tools/list`, for the built weather server against a plain MCP SDK server with one tool, in interleaved
 * rounds. Needs the weather server built (`pnpm build`); skipped with a message otherwise.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { type RunOptions, type ScenarioResult, skippedScenario } from "../lib/scenario.ts";
import { formatTable, type Spread, showRatio, showSpread, spread, verdict } from "../lib/stats.ts";

const WEATHER_BIN = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "apps",
  "weather",
  "bin",
  "async-tools-weather.js",
);
const PLAIN = join(import.meta.dirname, "fixtures", "plain-server.mjs");
const TARGET = 1.3;
/** Longest wait for a server's first answer, and then for it to exit once its stdin closed. */
const PATIENCE_MS = 30_000;

/**
 * Spawns `script`, says hello, lists tools; returns ms from spawn to the tools/list answer. Then it closes the
 * server's stdin, as a host does, and waits for the exit: a server killed by a signal never writes the compile
 * cache Node keeps for it at exit (the weather bin writes its own at once).
 */
function firstList(script: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(process.execPath, [script], { env, stdio: ["pipe", "pipe", "ignore"] });
    let buffer = "";
    let timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} gave no tools/list answer within ${PATIENCE_MS} ms`));
    }, PATIENCE_MS);
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const message = JSON.parse(line) as { id?: number };
        if (message.id === 1) {
          send({ jsonrpc: "2.0", method: "notifications/initialized" });
          send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
        } else if (message.id === 2) {
          const ms = performance.now() - began;
          clearTimeout(timer);
          timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${script} did not exit within ${PATIENCE_MS} ms of its stdin closing`));
          }, PATIENCE_MS);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve(ms);
          });
          child.stdin.end();
        }
      }
    });
    child.once("error", reject);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "bench", version: "0" },
      },
    });
  });
}

/** One way of starting a server, measured once per round. */
interface Side {
  label: string;
  script: string;
  /** The environment of one spawn; called once per round, so a side can start from an empty cache. */
  env: () => NodeJS.ProcessEnv;
}

/**
 * Measures spawn to first tools/list: the weather server as shipped (its bin turns on Node's compile cache,
 * warm after the first start) against a plain SDK server, which decides the target. For the honest picture,
 * the same rounds also measure the weather server with the cache off, on its very first start (an empty
 * cache), and the plain server with a warm compile cache of its own.
 */
export async function coldStart(options: RunOptions): Promise<ScenarioResult> {
  const name = "cold_start";
  if (!existsSync(join(WEATHER_BIN, "..", "..", "dist", "cli", "main.js"))) {
    const why = "apps/weather is not built (run pnpm build)";
    return skippedScenario(name, "Cold start", why, [`cold start within ${TARGET}x of a plain SDK server`]);
  }
  const rounds = options.quick ? 5 : 9;
  using dir = tempDir("bench-cold");
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    ASYNC_TOOLS_STORE: `sqlite:${join(dir.path, "weather.db")}`,
    ASYNC_TOOLS_LOG: "warn",
  };
  delete base.NODE_COMPILE_CACHE;
  delete base.NODE_DISABLE_COMPILE_CACHE;
  let fresh = 0;
  const sides: Side[] = [
    { label: "weather", script: WEATHER_BIN, env: () => base },
    { label: "plain", script: PLAIN, env: () => base },
    {
      label: "weather, no compile cache",
      script: WEATHER_BIN,
      env: () => ({ ...base, NODE_DISABLE_COMPILE_CACHE: "1" }),
    },
    {
      label: "weather, first start",
      script: WEATHER_BIN,
      env: () => ({ ...base, NODE_COMPILE_CACHE: join(dir.path, `empty-cache-${fresh++}`) }),
    },
    {
      label: "plain, compile cache",
      script: PLAIN,
      env: () => ({ ...base, NODE_COMPILE_CACHE: join(dir.path, "plain-cache") }),
    },
  ];
  // One start of each first: the runs that keep a compile cache measure a warm one, as every start after a
  // host's first does.
  for (const side of sides) await firstList(side.script, side.env());
  const ms: number[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    // Interleaved, and in the opposite order every other round, so drift in the machine's load hits all alike.
    const order = round % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => sides.length - 1 - i);
    for (const i of order) {
      const side = sides[i] as Side;
      (ms[i] as number[]).push(await firstList(side.script, side.env()));
    }
  }
  const plain = ms[1] as number[];
  const ratios = ms.map((series) =>
    spread(series.map((value, round) => value / (plain[round] ?? Number.NaN))),
  );
  const ratio = ratios[0] as Spread;
  const met = ratio.median <= TARGET;
  const bothCached = spread(
    (ms[0] as number[]).map((value, round) => value / ((ms[4] as number[])[round] ?? Number.NaN)),
  );
  const rows = sides.map((side, i) => [
    side.label,
    showSpread(spread(ms[i] as number[]), 0),
    i === 1 ? "" : showRatio(ratios[i] as Spread),
    i === 0 ? verdict(met) : "",
  ]);
  return {
    name,
    table: [
      formatTable(
        `Cold start: spawn to first tools/list answer (ms), ${rounds} interleaved rounds; median (min-max)`,
        ["server", "ms", "/ plain", `<=${TARGET}x`],
        rows,
      ),
      `weather / plain when both keep a compile cache: ${showRatio(bothCached)}`,
    ].join("\n"),
    figures: {
      rounds,
      weather_ms: spread(ms[0] as number[]),
      plain_ms: spread(plain),
      weather_vs_plain: ratio,
      weather_no_cache_vs_plain: ratios[2],
      weather_first_start_vs_plain: ratios[3],
      plain_cached_vs_plain: ratios[4],
      weather_vs_plain_cached: bothCached,
    },
    checks: [
      { name: `cold start within ${TARGET}x of a plain SDK server`, ok: met, detail: showRatio(ratio) },
    ],
  };
}
