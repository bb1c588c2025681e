/**
 * Cold start, which every host pays when it spawns a stdio server: from spawn to the answer of the first
 * `tools/list`, for the built weather server against a plain MCP SDK server with one tool, in interleaved
 * rounds. Needs the weather server built (`pnpm build`); skipped with a message otherwise.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { formatTable, showRatio, showSpread, spread, verdict } from "../lib/stats.ts";
import { tempDir } from "../lib/temp.ts";

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
const PLAIN = join(import.meta.dirname, "..", "fixtures", "plain-server.mjs");
const TARGET = 1.3;

/** Spawns `script`, says hello, lists tools; returns ms from spawn to the tools/list answer. */
function firstList(script: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(process.execPath, [script], { env, stdio: ["pipe", "pipe", "ignore"] });
    let buffer = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} gave no tools/list answer within 30 s`));
    }, 30_000);
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
          child.once("exit", () => resolve(ms));
          child.kill("SIGTERM");
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

/** Measures spawn to first tools/list, weather server against a plain SDK server. */
export async function coldStart(options: RunOptions): Promise<ScenarioResult> {
  const name = "cold_start";
  if (!existsSync(join(WEATHER_BIN, "..", "..", "dist", "cli", "main.js"))) {
    const why = "apps/weather is not built (run pnpm build)";
    process.stderr.write(`bench: cold_start skipped: ${why}\n`);
    return {
      name,
      table: `\nCold start: skipped (${why})`,
      figures: { skipped: why },
      checks: [
        { name: `cold start within ${TARGET}x of a plain SDK server`, ok: true, skipped: true, detail: why },
      ],
    };
  }
  const rounds = options.quick ? 5 : 9;
  using dir = tempDir("bench-cold");
  const env = {
    ...process.env,
    ASYNC_TOOLS_STORE: `sqlite:${join(dir.path, "weather.db")}`,
    ASYNC_TOOLS_LOG: "warn",
  };
  await firstList(WEATHER_BIN, env);
  await firstList(PLAIN, env);
  const weather: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      weather.push(await firstList(WEATHER_BIN, env));
      plain.push(await firstList(PLAIN, env));
    } else {
      plain.push(await firstList(PLAIN, env));
      weather.push(await firstList(WEATHER_BIN, env));
    }
  }
  const ratio = spread(weather.map((w, i) => w / (plain[i] ?? Number.NaN)));
  const met = ratio.median <= TARGET;
  return {
    name,
    table: formatTable(
      `Cold start: spawn to first tools/list answer (ms), ${rounds} interleaved rounds; median (min-max)`,
      ["weather server (built)", "plain SDK server, one tool", "weather / plain", `<=${TARGET}x`],
      [[showSpread(spread(weather), 0), showSpread(spread(plain), 0), showRatio(ratio), verdict(met)]],
    ),
    figures: { rounds, weather_ms: spread(weather), plain_ms: spread(plain), weather_vs_plain: ratio },
    checks: [
      { name: `cold start within ${TARGET}x of a plain SDK server`, ok: met, detail: showRatio(ratio) },
    ],
  };
}
