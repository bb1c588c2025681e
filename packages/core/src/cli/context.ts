/**
 * What every CLI command gets: where to write, the environment and the clock, so tests run commands in
 * process and read what they printed.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { CliError, EXIT } from "./open-store.ts";

/** The CLI's outside world. */
export interface CliContext {
  /** Writes to stdout; each call is one line or block (a newline is added). */
  out(text: string): void;
  /** Writes to stderr; each call is one line or block. */
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
  /** Resolves when the user asks a long-running command (the dashboard) to stop. */
  stopped?: Promise<void>;
}

/**
 * The context of the running process: its stdout and stderr, its environment, the clock, and SIGINT or
 * SIGTERM to stop a long-running command.
 */
export function cliContext(proc: NodeJS.Process): CliContext {
  const stopped = new Promise<void>((resolve) => {
    proc.once("SIGINT", () => resolve());
    proc.once("SIGTERM", () => resolve());
  });
  return {
    out: (text) => proc.stdout.write(`${text}\n`),
    err: (text) => proc.stderr.write(`${text}\n`),
    env: proc.env,
    now: () => Date.now(),
    stopped,
  };
}

/** A CLI command: its arguments after the command words, and the exit code it ends with. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;

/** The options every command that opens a store takes. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs`, strict, turning its errors into a usage error that shows `usage`. */
export function parse<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
  usage: string,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${usage}`, EXIT.usage);
  }
}

/** Writes `value` as indented JSON. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}
