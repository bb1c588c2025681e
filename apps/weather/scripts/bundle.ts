import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanEnv, packInto, runLogged, scriptLog } from "@async-tools/test-helpers/scripts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { DEFAULT_ARCHIVE_URL } from "../src/open-meteo/client.ts";

const app = join(import.meta.dirname, "..");
const mcpb = join(app, "node_modules", ".bin", "mcpb");
const BIN = "server/bin/async-tools-weather.js";
/** What of the packed package the bundle keeps: the bin, the command it loads, and the package's metadata. */
const KEPT = ["bin", "dist/cli", "package.json", "LICENSE"];

/** A placeholder the host fills in when it starts the server: `${__dirname}`, `${user_config.store}`. */
const slot = (name: string) => `\${${name}}`;

const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
const work = mkdtempSync(join(tmpdir(), "weather-bundle-"));
const output = values.check ? join(work, "weather.mcpb") : join(app, "weather.mcpb");

const log = scriptLog("bundle");

function run(cmd: string, args: string[], cwd: string): void {
  runLogged(log, cmd, args, cwd);
}

/** The tools a plain MCP client sees, with their descriptions, from the server as `command args env` runs it. */
async function servedTools(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ name: string; description: string }[]> {
  const transport = new StdioClientTransport({ command, args, env: cleanEnv(env), stderr: "pipe" });
  let err = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const client = new Client({ name: "weather-bundle", version: "0.0.0" });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    return tools.map((tool) => ({ name: tool.name, description: tool.description ?? "" }));
  } catch (error) {
    throw new Error(`the bundled server did not answer tools/list: ${(error as Error).message}\n${err}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

interface Package {
  version: string;
  description: string;
  license: string;
  homepage: string;
  engines: { node: string };
  repository: { url: string };
}

async function build(): Promise<{ manifest: Record<string, unknown> }> {
  const tarballs = join(work, "tarballs");
  const stage = join(work, "stage");
  mkdirSync(tarballs);
  mkdirSync(stage);
  const weatherTgz = packInto(log, app, tarballs);
  const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as Package;
  // The published package as `npx -y @async-tools/weather` gets it, less the library export: the bin is a
  // bundle, so it runs with no node_modules at all.
  const unpacked = join(work, "package");
  run("tar", ["-xzf", weatherTgz, "-C", work], work);
  for (const path of KEPT) cpSync(join(unpacked, path), join(stage, "server", path), { recursive: true });
  copyFileSync(join(app, "icon.png"), join(stage, "icon.png"));

  const tools = await servedTools(process.execPath, [join(stage, BIN)], { ASYNC_TOOLS_STORE: "memory" });
  const manifest = {
    manifest_version: "0.3",
    name: "async-tools-weather",
    display_name: "Historic weather (async-tools)",
    version: pkg.version,
    description: "Historic daily weather of any place since 1940, gathered by durable background jobs.",
    long_description:
      `${pkg.description} Start many places and months at once, watch their progress, collect the results; ` +
      "jobs survive restarts and crashes. Data: the Open-Meteo archive (free for non-commercial use).",
    author: { name: "The async-tools contributors" },
    repository: { type: "git", url: pkg.repository.url.replace(/^git\+/, "") },
    homepage: pkg.homepage,
    documentation: "https://github.com/async-tools/async-tools/blob/main/docs/hosts.md",
    support: "https://github.com/async-tools/async-tools/issues",
    icon: "icon.png",
    // The coordinates and dates of every gathering go to Open-Meteo (or the archive URL the user sets).
    privacy_policies: ["https://open-meteo.com/en/terms#privacy"],
    license: pkg.license,
    keywords: ["weather", "open-meteo", "durable", "async", "jobs"],
    server: {
      type: "node",
      entry_point: BIN,
      mcp_config: {
        command: "node",
        args: [`${slot("__dirname")}/${BIN}`, "--await-seconds", slot("user_config.await_seconds")],
        env: {
          ASYNC_TOOLS_STORE: slot("user_config.store"),
          OPEN_METEO_ARCHIVE_URL: slot("user_config.archive_url"),
        },
      },
    },
    tools,
    tools_generated: false,
    user_config: {
      store: {
        type: "string",
        title: "Job store",
        description:
          "Where jobs are kept: the path of a SQLite file, or sqlite:PATH. Leave empty for " +
          "async-tools/async-tools-weather/jobs.db " +
          "in your user data directory.",
        required: false,
        default: "",
      },
      archive_url: {
        type: "string",
        title: "Open-Meteo archive URL",
        description:
          "The archive endpoint: Open-Meteo's public one, or your own (a mirror, a URL with an apikey).",
        required: false,
        default: DEFAULT_ARCHIVE_URL,
      },
      await_seconds: {
        type: "number",
        title: "Await bound (seconds)",
        description:
          "How long await_result blocks when the model names no timeout; keep it below the host's tool-call timeout.",
        required: false,
        default: 45,
        min: 1,
        max: 50,
      },
    },
    compatibility: {
      platforms: ["darwin", "win32", "linux"],
      runtimes: { node: pkg.engines.node },
    },
  };
  writeFileSync(join(stage, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  run(mcpb, ["validate", join(stage, "manifest.json")], stage);
  run(mcpb, ["pack", stage, output], stage);
  log(`built ${output} with ${tools.length} tools: ${tools.map((tool) => tool.name).join(", ")}`);
  return { manifest };
}

/** Unpacks the bundle and runs its server as a host would from the manifest, with the settings' defaults. */
async function check(manifest: Record<string, unknown>): Promise<void> {
  const unpacked = join(work, "unpacked");
  run(mcpb, ["unpack", output, unpacked], work);
  const packed = JSON.parse(readFileSync(join(unpacked, "manifest.json"), "utf8")) as typeof manifest & {
    server: { mcp_config: { command: string; args: string[]; env: Record<string, string> } };
    user_config: Record<string, { default: string | number }>;
    tools: { name: string }[];
  };
  const substitute = (text: string) =>
    text
      .replaceAll(slot("__dirname"), unpacked)
      .replace(/\$\{user_config\.(\w+)\}/g, (_, key: string) =>
        String(packed.user_config[key]?.default ?? ""),
      );
  const { command, args, env } = packed.server.mcp_config;
  const store = join(work, "jobs.db");
  const served = await servedTools(command === "node" ? process.execPath : command, args.map(substitute), {
    ...Object.fromEntries(Object.entries(env).map(([key, value]) => [key, substitute(value)])),
    ASYNC_TOOLS_STORE: store,
  });
  const files = readdirSync(unpacked, { recursive: true, withFileTypes: true }).filter((entry) =>
    entry.isFile(),
  );
  const foreign = files.filter((entry) => entry.parentPath.includes("node_modules"));
  if (foreign.length > 0) throw new Error(`the bundle carries node_modules (${foreign.length} files)`);
  log(`ok: the bundle holds ${files.length} files and no node_modules`);
  const declared = packed as typeof packed & {
    privacy_policies?: string[];
    icon?: string;
    compatibility?: { runtimes?: { node?: string } };
  };
  if (
    !declared.privacy_policies?.length ||
    declared.icon === undefined ||
    !files.some((f) => f.name === declared.icon)
  )
    throw new Error(
      "the manifest must name a privacy policy (Open-Meteo gets the coordinates) and a packed icon",
    );
  if (declared.compatibility?.runtimes?.node === undefined)
    throw new Error("the manifest must declare the Node version the bundle needs");
  const expected = packed.tools.map((tool) => tool.name).join(", ");
  const got = served.map((tool) => tool.name).join(", ");
  if (got !== expected) throw new Error(`the unpacked bundle serves ${got}, its manifest lists ${expected}`);
  log(`ok: the unpacked bundle's server lists its manifest's tools (${got})`);
}

try {
  const { manifest } = await build();
  if (values.check) await check(manifest);
} finally {
  rmSync(work, { recursive: true, force: true });
}
