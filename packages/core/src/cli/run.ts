/**
 * The dispatcher of the `async-tools` bin and of a server's own bin (`runOperatorCli`): finds the command of
 * the table whose words `argv` starts with, answers help for it or for a family of commands (`jobs`,
 * `store`), runs it, and turns its {@link CliError} or `AsyncToolsError` into a message and an exit code.
 */
import { AsyncToolsError } from "../errors.ts";
import { type CliContext, CliError, type Command, EXIT } from "./command.ts";
import { COMMANDS } from "./commands.ts";

const HELP = new Set(["--help", "-h", "help"]);

const FOOTER = `Commands that read a store take --store PATH (default: ASYNC_TOOLS_STORE, then RESONATE_URL, then the
default store file) and --json for machine-readable output. See docs/cli.md.`;

/** Runs the command in `argv` (without `node` and the script) from `commands`; resolves to the exit code. */
export async function run(
  argv: string[],
  ctx: CliContext,
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const command = commands
    .filter((candidate) => candidate.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (command === undefined) return family(argv, ctx, commands);
  const args = argv.slice(command.path.length);
  if (args.some((word) => word === "--help" || word === "-h")) {
    ctx.out(`Usage: ${command.usage}\n\n${command.summary}.`);
    return EXIT.ok;
  }
  try {
    return await command.run(args, ctx);
  } catch (error) {
    if (error instanceof CliError) {
      ctx.err(error.exitCode === EXIT.usage ? `${error.message}\n\nUsage: ${command.usage}` : error.message);
      return error.exitCode;
    }
    if (error instanceof AsyncToolsError) {
      ctx.err(error.message);
      return EXIT.failed;
    }
    throw error;
  }
}

/**
 * `argv` names no whole command: the help of the family its first words name (all commands for none), on
 * stdout when asked for, else on stderr with exit code 2.
 */
function family(argv: string[], ctx: CliContext, commands: readonly Command[]): number {
  let depth = 0;
  while (
    depth < argv.length &&
    commands.some((c) => c.path[depth] === argv[depth] && startsWith(c, argv, depth))
  ) {
    depth += 1;
  }
  const words = argv.slice(0, depth);
  const members = commands.filter((c) => startsWith(c, words, depth));
  const name = ["async-tools", ...words].join(" ");
  const lines = [`Usage: ${name} <command> [options]`, "", "Commands:"];
  for (const c of members) lines.push(`  ${c.usage}`, `      ${c.summary}`);
  const help = [...lines, "", FOOTER].join("\n");
  const next = argv[depth];
  if (next === undefined || HELP.has(next)) {
    ctx.out(help);
    return EXIT.ok;
  }
  ctx.err(`Unknown command: ${[...words, next].join(" ")}.\n\n${help}`);
  return EXIT.usage;
}

/** Whether `command`'s path starts with the first `depth` words of `argv`. */
function startsWith(command: Command, argv: readonly string[], depth: number): boolean {
  return argv.slice(0, depth).every((word, i) => command.path[i] === word);
}
