/**
 * The operator's commands of the `async-tools` bin (`jobs …`, `store info`, `dashboard`), for a server's own
 * bin: `my-server jobs list` reads that server's store without the operator naming it. The public entry of
 * `@async-tools/core/cli`.
 */
import { defaultStorePath } from "../store/select.ts";
import { type CliContext, cliContext } from "./command.ts";
import { COMMANDS } from "./commands.ts";
import { run } from "./run.ts";

export { defaultStorePath };

/** How a server's bin runs the operator's commands. */
export interface OperatorCliOptions {
  /** The bin's name, shown in the usage lines instead of `async-tools`, e.g. `my-server`. */
  program: string;
  /**
   * The store the commands use when neither `--store`, `ASYNC_TOOLS_STORE` nor `RESONATE_URL` names one: the
   * server's own default, e.g. `defaultStorePath(process.env, "my-server")`.
   */
  defaultStore?: string;
  /** Where to write and the environment; default this process's (stdout, stderr, `process.env`, Ctrl-C). */
  context?: CliContext;
}

/**
 * Runs the operator's command in `argv` (`["jobs", "list"]`, `["store", "info"]`, `["dashboard"]`) and
 * resolves to its exit code (docs/cli.md lists them).
 *
 * @example
 * ```ts
 * import { defaultStorePath, runOperatorCli } from "@async-tools/core/cli";
 *
 * const [command] = process.argv.slice(2);
 * if (command === "jobs" || command === "store") {
 *   process.exitCode = await runOperatorCli(process.argv.slice(2), {
 *     program: "my-server",
 *     defaultStore: defaultStorePath(process.env, "my-server"),
 *   });
 * }
 * ```
 */
export async function runOperatorCli(argv: string[], options: OperatorCliOptions): Promise<number> {
  let base = options.context;
  if (base === undefined) {
    // The library's own log lines stay at `warn` unless ASYNC_TOOLS_LOG says otherwise: output is the command's.
    process.env.ASYNC_TOOLS_LOG ??= "warn";
    base = cliContext(process);
  }
  const named = base.env.ASYNC_TOOLS_STORE ?? base.env.RESONATE_URL;
  const env =
    named === undefined && options.defaultStore !== undefined
      ? { ...base.env, ASYNC_TOOLS_STORE: options.defaultStore }
      : base.env;
  // The usage texts name the `async-tools` bin; here they name the program that runs them.
  const rename = (text: string) =>
    text.replace(/\basync-tools(?= (?:jobs|store|dashboard|<command>)\b)/g, options.program);
  const ctx: CliContext = {
    ...base,
    env,
    out: (text) => base.out(rename(text)),
    err: (text) => base.err(rename(text)),
  };
  return run(
    argv,
    ctx,
    COMMANDS.filter((command) => command.operator === true),
  );
}
