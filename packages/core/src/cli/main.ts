#!/usr/bin/env node
/**
 * The `async-tools` bin. Logs and help go to stderr.
 */
import { AsyncToolsError } from "../errors.ts";
import { type Command, help, match } from "./args.ts";
import { storeServe } from "./store-serve.ts";

const commands: Command[] = [storeServe];

async function main(argv: string[]): Promise<number> {
  let matched: ReturnType<typeof match>;
  try {
    matched = match(commands, argv);
  } catch (error) {
    process.stderr.write(
      `async-tools: ${error instanceof Error ? error.message : String(error)}\n\n${help(commands)}`,
    );
    return 2;
  }
  if (matched === undefined || matched.values.help === true) {
    process.stderr.write(help(commands));
    return matched === undefined && argv.length > 0 && argv[0] !== "--help" && argv[0] !== "-h" ? 2 : 0;
  }
  await matched.command.run(matched.values);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = error instanceof AsyncToolsError ? ` (${error.code})` : "";
    process.stderr.write(`async-tools${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
