/**
 * `pnpm --filter @async-tools/weather sync:server-json` writes package.json's version into server.json (the
 * server's and each npm package's), which the MCP Registry requires to match the published package. The
 * root `pnpm version-packages` runs it after `changeset version`; `--check` only says whether they match.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const app = join(import.meta.dirname, "..");
const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
const { version } = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { version: string };
const path = join(app, "server.json");
const before = readFileSync(path, "utf8");
const server = JSON.parse(before) as { version: string; packages: { version: string }[] };
server.version = version;
for (const pkg of server.packages) pkg.version = version;
const after = `${JSON.stringify(server, null, 2)}\n`;
if (values.check) {
  if (after !== before) {
    process.stderr.write(
      `sync-server-json: server.json is not at version ${version}: run pnpm sync:server-json\n`,
    );
    process.exitCode = 1;
  }
} else if (after !== before) {
  writeFileSync(path, after);
  process.stderr.write(`sync-server-json: server.json is now at version ${version}\n`);
}
