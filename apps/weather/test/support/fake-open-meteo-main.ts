/**
 * Runs the fake Open-Meteo archive on its own, for demos and for crash drills that kill it:
 * `pnpm fake-open-meteo --port 8787 [--latency-ms 2000]`. It prints its URL to stderr; point the weather
 * server at it with `OPEN_METEO_ARCHIVE_URL=<url>`.
 */
import { parseArgs } from "node:util";
import { startFakeOpenMeteo } from "./fake-open-meteo.ts";

function log(level: "info" | "error", msg: string, fields: Record<string, string | number> = {}): void {
  const extra = Object.entries(fields).map(([key, value]) => ` ${key}=${value}`);
  process.stderr.write(`fake-open-meteo level=${level} msg=${JSON.stringify(msg)}${extra.join("")}\n`);
}

function count(name: string, raw: string | undefined, max: number): number {
  if (raw === undefined) return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`--${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

let port: number;
let latencyMs: number;
try {
  const { values } = parseArgs({ options: { port: { type: "string" }, "latency-ms": { type: "string" } } });
  port = count("port", values.port, 65_535);
  latencyMs = count("latency-ms", values["latency-ms"], 3_600_000);
} catch (error) {
  log("error", error instanceof Error ? error.message : String(error), {
    usage: JSON.stringify("fake-open-meteo [--port N] [--latency-ms N]"),
  });
  process.exit(2);
}

const fake = await startFakeOpenMeteo({ port, latencyMs }).catch((error: unknown) => {
  log("error", "could not listen", { port, error: JSON.stringify(String(error)) });
  process.exit(1);
});
log("info", "listening", { url: fake.url });

const stop = async (signal: string) => {
  await fake.close();
  log("info", "stopped", { signal });
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
