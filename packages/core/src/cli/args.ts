/**
 * The command line of the `async-tools` bin, parsed in one place: a command path (`store serve`) and its
 * options, so new commands add a table entry and a handler, not a parser. A command family with its own
 * parser (`jobs …`) takes its words as they are.
 */
import { parseArgs } from "node:util";

/** One command: its words, its options (as `node:util` parseArgs takes them) and its help line. */
export interface Command {
  path: string[];
  summary: string;
  usage: string;
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  /**
   * How the words after the path are read: `options` (the default) parses `options` strictly and refuses
   * positionals; `positionals` parses them and accepts positionals too (`jobs show ID`); `own` hands the
   * words to `run` unparsed, for a command family that parses its own (and prints its own help).
   */
  args?: "options" | "positionals" | "own";
  /** Runs the command; resolves to its exit code (anything but a number counts as 0). */
  run(values: Record<string, string | boolean | string[] | undefined>, rest: string[]): Promise<unknown>;
}

/** The command `argv` names and its parsed options; `undefined` when none matches (then print help). */
export function match(
  commands: Command[],
  argv: string[],
):
  | { command: Command; values: Record<string, string | boolean | string[] | undefined>; rest: string[] }
  | undefined {
  const command = commands
    .filter((candidate) => candidate.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (command === undefined) return undefined;
  const words = argv.slice(command.path.length);
  if (command.args === "own") return { command, values: {}, rest: words };
  const { values, positionals } = parseArgs({
    args: words,
    options: { ...command.options, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: command.args === "positionals",
  });
  return { command, values, rest: positionals };
}

/** The help text listing every command. */
export function help(commands: Command[]): string {
  const lines = ["async-tools: durable MCP tools, from the command line", ""];
  for (const command of commands) lines.push(`  ${command.usage}`, `      ${command.summary}`);
  lines.push("");
  return lines.join("\n");
}
