/**
 * The command line of the `async-tools` bin, parsed in one place: a command path (`store serve`) and its
 * options, so new commands add a table entry and a handler, not a parser.
 */
import { parseArgs } from "node:util";

/** One command: its words, its options (as `node:util` parseArgs takes them) and its help line. */
export interface Command {
  path: string[];
  summary: string;
  usage: string;
  options: Record<string, { type: "string" | "boolean"; short?: string }>;
  run(values: Record<string, string | boolean | undefined>): Promise<void>;
}

/** The command `argv` names and its parsed options; `undefined` when none matches (then print help). */
export function match(
  commands: Command[],
  argv: string[],
): { command: Command; values: Record<string, string | boolean | undefined> } | undefined {
  const command = commands
    .filter((candidate) => candidate.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (command === undefined) return undefined;
  const { values } = parseArgs({
    args: argv.slice(command.path.length),
    options: { ...command.options, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  return { command, values };
}

/** The help text listing every command. */
export function help(commands: Command[]): string {
  const lines = ["async-tools: durable MCP tools, from the command line", ""];
  for (const command of commands) lines.push(`  ${command.usage}`, `      ${command.summary}`);
  lines.push("");
  return lines.join("\n");
}
