/**
 * Structured logging to stderr, one line per event: stdout belongs to the MCP protocol on stdio servers.
 * `ASYNC_TOOLS_LOG` picks the level, `ASYNC_TOOLS_LOG_FORMAT=json` turns the terminal lines into JSON.
 * A hand-written writer rather than pino: the lines are few (one per job event), must be written
 * synchronously so the last ones survive `process.exit`, and pino's readable output needs a second package.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(env: NodeJS.ProcessEnv): number {
  const wanted = (env.ASYNC_TOOLS_LOG ?? "info").trim().toLowerCase();
  if (wanted === "silent" || wanted === "off" || wanted === "none") return Number.POSITIVE_INFINITY;
  return order[wanted as LogLevel] ?? order.info;
}

/** Whether `level` is written with the current `ASYNC_TOOLS_LOG`. */
export function enabled(level: LogLevel, env: NodeJS.ProcessEnv = process.env): boolean {
  return order[level] >= threshold(env);
}

/** A field's value as JSON can carry it: an Error by its message, never its stack. */
function plain(value: unknown): unknown {
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === "bigint") return String(value);
  return value;
}

function textValue(value: unknown): string {
  const v = plain(value);
  if (typeof v === "string") return v === "" || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/**
 * Formats one line, without the newline. `text`: `<time> <LEVEL> async-tools <msg> key=value …`, for people
 * and grep; `json`: one object with `time`, `level`, `msg` and the fields.
 */
export function formatLine(
  format: "text" | "json",
  time: Date,
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
): string {
  if (format === "json") {
    const record: Record<string, unknown> = { time: time.toISOString(), level, msg };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && !(key in record)) record[key] = plain(value);
    }
    return JSON.stringify(record);
  }
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} async-tools ${msg}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${textValue(value)}`;
  }
  return line;
}

/** Writes one line to stderr when `level` is enabled, in the format `ASYNC_TOOLS_LOG_FORMAT` asks for. */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (!enabled(level)) return;
  const format = process.env.ASYNC_TOOLS_LOG_FORMAT?.trim().toLowerCase() === "json" ? "json" : "text";
  process.stderr.write(`${formatLine(format, new Date(), level, msg, fields)}\n`);
}
