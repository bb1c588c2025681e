/**
 * What every CLI command is and gets: one {@link Command} shape for the table in `commands.ts`, one error
 * type, and a {@link CliContext} (where to write, the environment, the clock, a stop signal), so tests run
 * commands in process and read what they printed.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

/** The CLI's outside world. */
export interface CliContext {
  /** Writes to stdout; each call is one line or block (a newline is added). */
  out(text: string): void;
  /** Writes to stderr; each call is one line or block. */
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
  /** Resolves when the user asks a long-running command (the dashboard, `store serve`) to stop. */
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

/** Exit codes of the CLI; docs/cli.md lists them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, storeLocked: 3 } as const;

/**
 * The CLI's one error: a problem reported in one message, with the exit code it ends with. A usage error
 * (`EXIT.usage`) is followed by the command's usage line.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A command of the `async-tools` bin: an entry of the table in `commands.ts`. */
export interface Command {
  /** Its words after the program's name, e.g. `["jobs", "list"]`. */
  path: readonly string[];
  /** Its words and options as the help shows them, starting with the program's name. */
  usage: string;
  /** What it does, in one line. */
  summary: string;
  /** Part of a server's own bin too (`runOperatorCli`): the commands that look at and manage jobs. */
  operator?: boolean;
  /** Runs it with the words after its path; resolves to the exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** The options every command that opens a store takes. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs`, strict and with positionals, turning its errors into usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage, { cause: error });
  }
}

/** Writes `value` as indented JSON. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}
