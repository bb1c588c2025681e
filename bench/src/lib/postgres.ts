/** The bench's side of a Postgres store: `async-tools store init` on a database, from the core package's source. */
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const CORE_CLI = join(
  dirname(fileURLToPath(import.meta.resolve("@async-tools/core/package.json"))),
  "src",
  "cli",
  "main.ts",
);

/** Applies the Postgres store's schema to the database at `url`. */
export async function storeInit(url: string): Promise<void> {
  await promisify(execFile)(process.execPath, [
    "--conditions=@async-tools/source",
    CORE_CLI,
    "store",
    "init",
    "--store",
    url,
  ]);
}
