/**
 * Structured, greppable logging to stderr: stdout belongs to the MCP protocol on stdio servers.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const wanted = (process.env.ASYNC_TOOLS_LOG ?? "info").toLowerCase();
  if (wanted === "silent" || wanted === "off") return Number.POSITIVE_INFINITY;
  return order[wanted as LogLevel] ?? order.info;
}

function format(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value);
}

/** Writes one line `async-tools time=… level=… msg="…" key=value …` to stderr when `level` is enabled. */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (order[level] < threshold()) return;
  let line = `async-tools time=${new Date().toISOString()} level=${level} msg=${JSON.stringify(msg)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${format(value)}`;
  }
  process.stderr.write(`${line}\n`);
}
