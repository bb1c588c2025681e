/**
 * `pnpm --filter @async-tools/weather release:check` (CI) proves the release command end to end without npm:
 * it starts Verdaccio on 127.0.0.1 with a temp storage and config (`@async-tools/*` live only there; other
 * names are read through from npm, as a user's npm would see them), signs a user up, runs `pnpm release --dry-run --registry <it>`, then, from an empty folder and an empty npm cache,
 * `npx -y @async-tools/weather --version` and a real MCP client through `npx -y @async-tools/weather` over
 * stdio, both from that registry. Verdaccio and the temp folder are gone afterwards.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@async-tools/test-helpers/net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const app = join(import.meta.dirname, "..");
const repo = join(app, "..", "..");
const work = mkdtempSync(join(tmpdir(), "release-check-"));
/** How long Verdaccio may take to answer its first ping on a loaded machine. */
const START_BUDGET_MS = 60_000;

function log(message: string): void {
  process.stderr.write(`release-check: ${message}\n`);
}

/** Starts Verdaccio with its own storage and config in `work`, and resolves with its URL once it answers. */
async function startRegistry(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const config = join(work, "verdaccio.yaml");
  writeFileSync(
    config,
    [
      `storage: ${join(work, "storage")}`,
      "auth:",
      "  htpasswd:",
      `    file: ${join(work, "htpasswd")}`,
      "uplinks:",
      "  npmjs: { url: https://registry.npmjs.org/ }",
      "packages:",
      '  "@async-tools/*":',
      "    access: $all",
      "    publish: $authenticated",
      '  "**":',
      "    access: $all",
      "    proxy: npmjs",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const child = spawn(
    join(app, "node_modules", ".bin", "verdaccio"),
    ["--config", config, "--listen", `127.0.0.1:${port}`],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const url = `http://127.0.0.1:${port}/`;
  const began = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}`);
    const ok = await fetch(`${url}-/ping`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return { url, child };
    if (Date.now() - began > START_BUDGET_MS) throw new Error(`verdaccio did not answer on ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Signs a user up on the registry and returns its token, as `npm adduser` does. */
async function signUp(url: string): Promise<string> {
  const response = await fetch(`${url}-/user/org.couchdb.user:release-check`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "release-check", password: "release-check-password" }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || body.token === undefined) throw new Error(`sign-up failed: ${response.status}`);
  return body.token;
}

const { url, child } = await startRegistry();
try {
  const token = await signUp(url);
  const npmrc = join(work, ".npmrc");
  writeFileSync(npmrc, `registry=${url}\n//${url.replace(/^http:\/\//, "")}:_authToken=${token}\n`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const key of ["RESONATE_URL", "ASYNC_TOOLS_STORE", "NODE_PATH"]) delete env[key];
  Object.assign(env, {
    npm_config_registry: url,
    npm_config_userconfig: npmrc,
    npm_config_cache: join(work, "npm-cache"),
    CI: "true",
  });

  log(`pnpm release --dry-run --registry ${url}`);
  execFileSync("pnpm", ["release", "--dry-run", "--registry", url], {
    cwd: repo,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });

  const user = join(work, "user");
  mkdirSync(user);
  const { version } = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { version: string };
  const shown = execFileSync("npx", ["-y", "@async-tools/weather", "--version"], {
    cwd: user,
    env,
    encoding: "utf8",
  });
  if (shown !== `${version}\n`) throw new Error(`npx -y @async-tools/weather --version printed ${shown}`);
  log(`ok: npx -y @async-tools/weather --version prints ${version}, from the local registry`);

  const transport = new StdioClientTransport({
    command: "npx",
    args: ["-y", "@async-tools/weather"],
    cwd: user,
    env: { ...env, ASYNC_TOOLS_STORE: "memory" },
    stderr: "pipe",
  });
  const client = new Client({ name: "release-check", version: "0.0.0" });
  try {
    await client.connect(transport);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    if (!names.includes("start_gathering")) throw new Error(`tools/list gave ${names.join(", ")}`);
    log(`ok: an MCP client through npx -y @async-tools/weather lists ${names.join(", ")}`);
  } finally {
    await client.close().catch(() => undefined);
  }
} finally {
  child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
