/**
 * Proves the published packages work for their users, from the tarballs alone:
 * - packs @async-tools/core and @async-tools/weather (their `prepack` builds them) and checks that each
 *   tarball holds its README, LICENSE and build, then lints both with publint and Are The Types Wrong;
 * - core: installs it into two scratch projects with npm, one with only the v1 MCP SDK
 *   (`@modelcontextprotocol/sdk`) and one with only the v2 SDK (`@modelcontextprotocol/server`, `/client`),
 *   each at the lowest version of core's peer range; type-checks a consumer in each and runs it (v1: durable
 *   jobs directly and through the in-memory harness; v2: one job through a v2 Client over stdio, 2026-07-28,
 *   and one over `serveHttp` with no face given, which must pick v2 by itself);
 * - weather: `npm install <weather.tgz>` alone in an empty folder must install that one package (its bin is
 *   a bundle: no dependency of it may come along), then the bin's `--version`, `--help` and
 *   `--print-config claude`, a real MCP client over stdio (tools/list and one job against the fake Open-Meteo
 *   archive on 127.0.0.1), and the same bin through `npx`; the library export (`buildServer`) is imported by
 *   the v1 consumer, which installs the peers the weather README names for it;
 * - on a Node older than 22.18 (the machine's own, when it has one): the bin and the library's import each
 *   print one line naming the Node they need, and the bin runs under `npx -p node@24` as that line advises.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import {
  packInto,
  runLogged,
  scriptLog,
  cleanEnv as workspaceFreeEnv,
} from "@async-tools/test-helpers/scripts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const core = join(import.meta.dirname, "..");
const repo = join(core, "..", "..");
const weather = join(repo, "apps", "weather");
const scratch = mkdtempSync(join(tmpdir(), "async-tools-pack-"));

/** The environment of everything this script starts: no workspace leaks, no ambient store, and CI's answers. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return workspaceFreeEnv({ CI: "true", ...extra });
}

const log = scriptLog("pack-check");

function run(cmd: string, args: string[], cwd: string, env = cleanEnv()): void {
  runLogged(log, cmd, args, cwd, env);
}

/** Runs a command to its end and returns its exit code and output, whatever the code. */
function capture(cmd: string, args: string[], cwd: string, env = cleanEnv()) {
  try {
    const stdout = execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { code: 0, stdout, stderr: "" };
  } catch (error) {
    const failed = error as { status: number | null; stdout: string; stderr: string };
    return { code: failed.status, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`pack-check failed: ${what}`);
  log(`ok: ${what}`);
}

/** Packs the package in `dir` into `scratch` and returns the tarball's path. */
function pack(dir: string, name: string, mustHold: string[]): string {
  const path = packInto(log, dir, scratch, cleanEnv());
  const entries = execFileSync("tar", ["-tzf", path], { encoding: "utf8" }).split("\n");
  for (const entry of ["package.json", "README.md", "LICENSE", ...mustHold]) {
    check(entries.includes(`package/${entry}`), `the ${name} tarball holds ${entry}`);
  }
  run("pnpm", ["exec", "publint", "run", path, "--strict"], core);
  run("pnpm", ["exec", "attw", path, "--profile", "esm-only"], core);
  return path;
}

/** A version for `name` from the workspace catalog, as the consumer project should install it. */
function catalogVersion(name: string): string {
  const catalog = readFileSync(join(repo, "pnpm-workspace.yaml"), "utf8");
  const match = new RegExp(`"?${name.replace(/[/@]/g, "\\$&")}"?:\\s*([^\\s]+)`).exec(catalog);
  return match?.[1] ?? "latest";
}

/** The lowest version core's peer range admits (`^1.32.0` → `1.32.0`), so old peers are what is checked. */
function lowestPeer(name: string): string {
  const own = JSON.parse(readFileSync(join(core, "package.json"), "utf8")) as {
    peerDependencies: Record<string, string>;
  };
  const range = own.peerDependencies[name];
  const match = range === undefined ? null : /^[\^~]?(\d+\.\d+\.\d+)$/.exec(range.trim());
  if (match?.[1] === undefined) throw new Error(`pack-check: no simple peer range for ${name}: ${range}`);
  return match[1];
}

/** The async tool every consumer project defines, as source. */
const DOUBLE_TOOL = `const double = defineAsyncTool({
  name: "double",
  description: "Doubles a number",
  input: z.object({ n: z.number() }),
  output: z.object({ doubled: z.number() }),
  run: async (ctx, { n }) => ({ doubled: await ctx.run("double", () => n * 2) }),
});`;

/**
 * A consumer project `name` in the scratch folder: core from `coreTgz`, the packages `sdk` (the MCP SDK's, and
 * any other), and
 * Resonate, zod, TypeScript and Node's types at the workspace's versions; a strict NodeNext tsconfig over
 * its `.ts` files, with `compilerOptions` added. Returns its folder.
 */
function consumerProject(
  name: string,
  coreTgz: string,
  sdk: Record<string, string>,
  compilerOptions: Record<string, unknown> = {},
): string {
  const consumer = join(scratch, name);
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({
      name,
      private: true,
      type: "module",
      dependencies: {
        "@async-tools/core": `file:${coreTgz}`,
        ...sdk,
        ...Object.fromEntries(
          ["@resonatehq/sdk", "zod", "typescript", "@types/node"].map((dep) => [dep, catalogVersion(dep)]),
        ),
      },
    }),
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        types: ["node"],
        allowImportingTsExtensions: true,
        ...compilerOptions,
      },
      include: ["*.ts"],
    }),
  );
  return consumer;
}

/**
 * The consumer on the v1 SDK alone, at the lowest version core accepts; it also imports the weather library
 * with the peers its README names (core, the v1 SDK, Resonate, zod). Returns its folder.
 */
function checkCoreConsumerV1(coreTgz: string, weatherTgz: string): string {
  const consumer = consumerProject("consumer-v1", coreTgz, {
    "@modelcontextprotocol/sdk": lowestPeer("@modelcontextprotocol/sdk"),
    "@async-tools/weather": `file:${weatherTgz}`,
  });
  writeFileSync(
    join(consumer, "consumer.ts"),
    `import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { createAsyncTools, defineAsyncTool, type JobSnapshot } from "@async-tools/core";
import { registerTools, serverOptions } from "@async-tools/core/mcp-v1";
import { connectInMemory } from "@async-tools/core/testing";
import { buildServer, createWeatherRuntime } from "@async-tools/weather";
import { z } from "zod";

${DOUBLE_TOOL}

// The weather library export, served in memory: its tools are there.
const weather = await createWeatherRuntime({ store: "memory" });
const weatherServer: McpServer = buildServer(weather);
await weatherServer.close();
await weather.close();

const tools = await createAsyncTools({ store: "memory", tools: [double] });
const server = new McpServer({ name: "consumer", version: "1.0.0" }, serverOptions(tools));
registerTools(server, tools);
const started = await tools.start(double, { n: 21 });
const [done]: JobSnapshot[] = await tools.wait([started.jobId], { timeoutMs: 10_000 });
await tools.close();
if (done?.status !== "completed" || (done.result as { doubled: number }).doubled !== 42) {
  throw new Error("unexpected result: " + JSON.stringify(done));
}
// The testing harness: a real client, in memory, through the MCP tools.
await using c = await connectInMemory([double]);
const viaMcp = await c.call("start_double", { n: 1 });
if (viaMcp.isError) throw new Error("start_double failed: " + JSON.stringify(viaMcp.content));
console.log("consumer ok:", JSON.stringify(done.result));
`,
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], consumer);
  run(join(consumer, "node_modules", ".bin", "tsc"), ["-p", "."], consumer);
  run(process.execPath, ["consumer.ts"], consumer);
  check(
    !existsSync(join(consumer, "node_modules", "@modelcontextprotocol", "server")),
    "the v1 consumer runs without the v2 SDK installed",
  );
  log("the packed @async-tools/core installs, type-checks and runs with the v1 SDK only");
  return consumer;
}

/** The consumer on the v2 SDK alone: a stdio server with the v2 face and a v2 Client that speaks 2026-07-28. */
function checkCoreConsumerV2(coreTgz: string): void {
  const v2 = lowestPeer("@modelcontextprotocol/server");
  const consumer = consumerProject(
    "consumer-v2",
    coreTgz,
    { "@modelcontextprotocol/server": v2, "@modelcontextprotocol/client": v2 },
    { lib: ["ES2024", "DOM"] },
  );
  writeFileSync(
    join(consumer, "server.ts"),
    `import { defineAsyncTool } from "@async-tools/core";
import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

${DOUBLE_TOOL}

serveStdio(
  (runtime) => {
    const server = new McpServer({ name: "consumer", version: "1.0.0" });
    registerTools(server, runtime);
    return server;
  },
  { runtime: { tools: [double], store: "memory" } },
);
`,
  );
  writeFileSync(
    join(consumer, "consumer.ts"),
    `import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const client = new Client({ name: "consumer", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
await client.connect(new StdioClientTransport({ command: process.execPath, args: ["server.ts"], stderr: "ignore" }));
if (client.getProtocolEra() !== "modern") throw new Error("expected the 2026-07-28 era, got " + client.getProtocolEra());
const started = (await client.callTool({ name: "start_double", arguments: { n: 21 } })).structuredContent as {
  job_id: string;
};
const awaited = (await client.callTool({ name: "await_double", arguments: { job_ids: [started.job_id] } }))
  .structuredContent as { jobs: { status: string; result?: { doubled: number } }[] };
await client.close();
const done = awaited.jobs[0];
if (done?.status !== "completed" || done.result?.doubled !== 42) {
  throw new Error("unexpected result: " + JSON.stringify(done));
}
console.log("consumer ok:", JSON.stringify(done.result));
`,
  );
  // serveHttp with no face given: with only the v2 SDK installed it must pick the v2 face by itself.
  writeFileSync(
    join(consumer, "http-consumer.ts"),
    `import { createAsyncTools, defineAsyncTool } from "@async-tools/core";
import { serveHttp } from "@async-tools/core/http";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { z } from "zod";

${DOUBLE_TOOL}
const runtime = await createAsyncTools({ tools: [double], store: "memory" });
const server = await serveHttp(runtime, { port: 0 });
const client = new Client({ name: "consumer", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
if (client.getProtocolEra() !== "modern") throw new Error("expected the 2026-07-28 era, got " + client.getProtocolEra());
const started = (await client.callTool({ name: "start_double", arguments: { n: 4 } })).structuredContent as {
  job_id: string;
};
const awaited = (await client.callTool({ name: "await_double", arguments: { job_ids: [started.job_id] } }))
  .structuredContent as { jobs: { status: string; result?: { doubled: number } }[] };
await client.close();
await server.close();
await runtime.close();
if (awaited.jobs[0]?.result?.doubled !== 8) throw new Error("unexpected result: " + JSON.stringify(awaited));
console.log("http consumer ok");
`,
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], consumer);
  run(join(consumer, "node_modules", ".bin", "tsc"), ["-p", "."], consumer);
  run(process.execPath, ["consumer.ts"], consumer);
  run(process.execPath, ["http-consumer.ts"], consumer);
  check(
    !existsSync(join(consumer, "node_modules", "@modelcontextprotocol", "sdk")),
    "the v2 consumer runs without the v1 SDK installed, over stdio and over serveHttp's default face",
  );
  const node = oldNode();
  if (node !== undefined) {
    const version = capture(node, ["--version"], consumer).stdout.trim();
    const entry = "@async-tools/core/mcp-v2";
    const library = capture(
      node,
      ["--input-type=module", "-e", `await import(${JSON.stringify(entry)});`],
      consumer,
    );
    check(
      library.code === 1 &&
        library.stderr.trimEnd().split("\n").length === 1 &&
        library.stderr.includes("@async-tools/core needs Node.js 22.18 or later"),
      `on Node ${version}, importing ${entry} prints one line naming the Node it needs`,
    );
  }
  log("the packed @async-tools/core installs, type-checks and runs with the v2 SDK only");
}

/** Starts the fake Open-Meteo archive of the weather app's test support on a free port. */
async function startFake(): Promise<{ url: string; child: ChildProcess }> {
  const main = join(weather, "test", "support", "fake-open-meteo-main.ts");
  const child = spawn(process.execPath, ["--conditions=@async-tools/source", main], {
    env: cleanEnv(),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const match = /url=(http:\/\/\S+)/.exec(err);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`the fake archive exited with ${code}: ${err}`)));
  });
  return { url, child };
}

/** tools/list and one start_gathering → await_result job over stdio, through `command args`. */
async function talkToWeather(
  label: string,
  command: string,
  args: string[],
  cwd: string,
  archiveUrl: string,
): Promise<void> {
  const transport = new StdioClientTransport({
    command,
    args,
    cwd,
    env: cleanEnv({
      OPEN_METEO_ARCHIVE_URL: archiveUrl,
      ASYNC_TOOLS_STORE: `sqlite:${join(cwd, "jobs.db")}`,
    }),
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const client = new Client({ name: "pack-check", version: "0.0.0" });
  try {
    await client.connect(transport);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    const expected = ["start_gathering", "probe_status", "await_result", "cancel_gathering"];
    check(
      expected.every((name) => names.includes(name)),
      `${label} lists ${expected.join(", ")} (tools/list: ${names.join(", ")})`,
    );
    const place = { latitude: 51.05, longitude: -114.07, year: 2024, month: 1 };
    const started = (await client.callTool({ name: "start_gathering", arguments: place })) as {
      structuredContent?: { job_name?: string };
    };
    const jobName = started.structuredContent?.job_name;
    if (!jobName) throw new Error(`start_gathering gave no job_name: ${JSON.stringify(started)}`);
    let job: { status?: string; result?: { days?: unknown[] } } | undefined;
    for (let round = 0; round < 5 && job?.status !== "completed"; round++) {
      const answer = (await client.callTool({
        name: "await_result",
        arguments: { job_names: [jobName], timeout_seconds: 20 },
      })) as { structuredContent?: { jobs?: (typeof job)[] } };
      job = answer.structuredContent?.jobs?.[0];
    }
    check(
      job?.status === "completed" && job.result?.days?.length === 31,
      `${label} gathers January 2024 from the fake archive (${job?.status}, ${job?.result?.days?.length} days)`,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nthe server's stderr:\n${err}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** The packages npm installed into `folder`, by their path in node_modules. */
function installedPackages(folder: string): string[] {
  const lock = JSON.parse(readFileSync(join(folder, "node_modules", ".package-lock.json"), "utf8")) as {
    packages: Record<string, unknown>;
  };
  return Object.keys(lock.packages).filter((path) => path !== "");
}

async function checkWeatherBin(weatherTgz: string, archiveUrl: string): Promise<void> {
  const folder = join(scratch, "weather");
  mkdirSync(folder);
  // What `npx -y @async-tools/weather` installs: the tarball alone, nothing from the workspace.
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", weatherTgz], folder);
  const installed = installedPackages(folder);
  check(
    installed.join(" ") === "node_modules/@async-tools/weather",
    `npm install @async-tools/weather installs that one package (got ${installed.length}: ${installed.slice(0, 8).join(" ")})`,
  );
  const bin = join(folder, "node_modules", ".bin", "async-tools-weather");
  const version = (JSON.parse(readFileSync(join(weather, "package.json"), "utf8")) as { version: string })
    .version;

  const shown = capture(bin, ["--version"], folder);
  check(
    shown.code === 0 && shown.stdout === `${version}\n`,
    `async-tools-weather --version prints ${version}`,
  );
  const help = capture(bin, ["--help"], folder);
  check(
    help.code === 0 && help.stdout.includes("--await-seconds"),
    "async-tools-weather --help prints its flags",
  );
  const bad = capture(bin, ["--no-such-flag"], folder);
  check(
    bad.code === 2 && bad.stderr.trimEnd().split("\n").length === 1,
    "an unknown flag gives one usage line and exit 2",
  );
  const config = capture(bin, ["--print-config", "claude"], folder);
  const entry = JSON.parse(config.stdout) as { mcpServers?: { weather?: { command?: string } } };
  check(entry.mcpServers?.weather?.command === "npx", "--print-config claude prints JSON only");

  await talkToWeather("the installed bin over stdio", bin, [], folder, archiveUrl);
  const npxFolder = join(scratch, "npx");
  mkdirSync(npxFolder);
  // As a host's config runs it: npx -y <package>, here with the tarballs standing in for the registry.
  await talkToWeather(
    "npx -y @async-tools/weather over stdio",
    "npx",
    ["-y", `--package=${weatherTgz}`, "--", "async-tools-weather"],
    npxFolder,
    archiveUrl,
  );
}

/** A `node` older than 22.18 on PATH or in the usual system places, if this machine has one. */
function oldNode(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin"].filter(Boolean);
  for (const candidate of dirs.map((dir) => join(dir, "node"))) {
    const { code, stdout } = capture(candidate, ["--version"], scratch);
    if (code !== 0) continue;
    const [major = 0, minor = 0] = stdout.trim().slice(1).split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 18)) return candidate;
  }
  return undefined;
}

/** On an old Node: the bin (installed in `consumer` with the library) and the library imports refuse in one line. */
function checkOldNode(consumer: string, weatherTgz: string): void {
  const node = oldNode();
  if (!node) {
    log("no Node older than 22.18 on this machine: the old-Node checks are skipped");
    return;
  }
  const version = capture(node, ["--version"], consumer).stdout.trim();
  const bin = join(consumer, "node_modules", "@async-tools", "weather", "bin", "async-tools-weather.js");
  const refused = capture(node, [bin, "--version"], consumer);
  check(
    refused.code === 1 &&
      refused.stdout === "" &&
      refused.stderr.trimEnd().split("\n").length === 1 &&
      refused.stderr.includes("needs Node.js 22.18 or later"),
    `on Node ${version}, the bin prints one line naming the Node it needs`,
  );
  for (const entry of ["@async-tools/core", "@async-tools/core/mcp-v1"]) {
    const library = capture(
      node,
      ["--input-type=module", "-e", `await import(${JSON.stringify(entry)});`],
      consumer,
    );
    check(
      library.code === 1 &&
        library.stderr.trimEnd().split("\n").length === 1 &&
        library.stderr.includes("@async-tools/core needs Node.js 22.18 or later"),
      `on Node ${version}, importing ${entry} prints one line naming the Node it needs`,
    );
  }
  // The line's advice, followed with the old Node first on PATH: npx brings Node 24 from the npm registry.
  const oldFirst = cleanEnv({ PATH: `${join(node, "..")}${delimiter}${process.env.PATH ?? ""}` });
  const advised = capture(
    "npx",
    ["-y", "-p", "node@24", "-p", weatherTgz, "async-tools-weather", "--version"],
    join(scratch, "npx"),
    oldFirst,
  );
  check(advised.code === 0, `on Node ${version}, npx -y -p node@24 … async-tools-weather runs the bin`);
}

const fake = await startFake();
try {
  const coreTgz = pack(core, "@async-tools/core", [
    "bin/async-tools.js",
    "dist/index.js",
    "dist/index.d.ts",
    "dist/mcp-v1.js",
    "dist/mcp-v2.js",
    "dist/testing.js",
  ]);
  const weatherTgz = pack(weather, "@async-tools/weather", [
    "bin/async-tools-weather.js",
    "dist/cli/main.js",
    "dist/server.js",
    "dist/server.d.ts",
  ]);
  const consumerV1 = checkCoreConsumerV1(coreTgz, weatherTgz);
  checkCoreConsumerV2(coreTgz);
  await checkWeatherBin(weatherTgz, fake.url);
  checkOldNode(consumerV1, weatherTgz);
  log("both packed packages install, type-check and run");
} finally {
  fake.child.kill("SIGTERM");
  rmSync(scratch, { recursive: true, force: true });
}
