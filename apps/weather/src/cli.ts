/**
 * The `async-tools-weather` command line: parses flags, answers `--help`, `--version` and `--print-config`
 * on stdout, runs the operator's commands (`jobs …`, `store info`, `dashboard`, core's CLI) on the server's
 * own store, and otherwise serves MCP over stdio (the default) or Streamable HTTP. Everything else it says
 * goes to stderr: on stdio, stdout is the protocol.
 */
import { parseArgs } from "node:util";
import { AsyncToolsError } from "@async-tools/core";
import { createMcpHandler, createStdioTransport } from "@async-tools/core/mcp-v1";
import packageJson from "../package.json" with { type: "json" };
import { WEATHER_DEFAULTS } from "./defaults.ts";
import { DEFAULT_ARCHIVE_URL } from "./open-meteo/client.ts";
import { buildServer, createWeatherRuntime, SERVER_INFO } from "./server.ts";

const NAME = "async-tools-weather";
const PACKAGE = packageJson.name;

/** One line, for errors: what the command accepts. */
const USAGE =
  `usage: ${NAME} [--http [--port N] [--host H] [--token [NAME=]T]... [--operator NAME]... ` +
  "[--allow-unauthenticated]] [--sdk v1|v2] " +
  "[--store S] [--await-seconds N] [--lease-seconds N] [--confirm-above N] " +
  "[--print-config claude|cursor|vscode] [--help] [--version]";

const OPTIONS = {
  http: { type: "boolean", default: false },
  port: { type: "string", default: "3000" },
  host: { type: "string", default: "127.0.0.1" },
  token: { type: "string", multiple: true },
  operator: { type: "string", multiple: true },
  "allow-unauthenticated": { type: "boolean", default: false },
  sdk: { type: "string", default: "v2" },
  store: { type: "string" },
  "await-seconds": { type: "string" },
  "lease-seconds": { type: "string" },
  "confirm-above": { type: "string" },
  "print-config": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", short: "v", default: false },
} as const;

/** The hosts `--print-config` knows, each with the file its entry goes into. */
const HOSTS = {
  claude: "claude_desktop_config.json (Claude Desktop: Settings › Developer › Edit Config)",
  cursor: "~/.cursor/mcp.json, or .cursor/mcp.json in a project",
  vscode: ".vscode/mcp.json in the workspace",
} as const;

type Host = keyof typeof HOSTS;

/** The words that start an operator's command of core's CLI, run on this server's store. */
const OPERATOR_COMMANDS = new Set(["jobs", "store", "dashboard"]);

/** The store file the server uses when none is named: one source for `--help`, the server and `jobs`. */
async function defaultStore(): Promise<string> {
  const { defaultStorePath } = await import("@async-tools/core/cli");
  return defaultStorePath(process.env, SERVER_INFO.name);
}

function help(storeFile: string): string {
  return `${NAME} ${packageJson.version}: historic weather from the Open-Meteo archive as durable MCP tools
(start_gathering, probe_status, await_result, cancel_gathering). Jobs survive restarts and crashes.

Transports
  ${NAME}
      MCP over stdio (what desktop hosts launch)
  ${NAME} --http [--port 3000] [--host 127.0.0.1] [--token SECRET | --token alice=T1 --token bob=T2]
      MCP over Streamable HTTP on http://HOST:PORT/mcp, and a live dashboard of the jobs at /jobs
      (behind the same tokens)

Flags
  --store S           where jobs live: sqlite:PATH (or a plain path), memory, http(s)://resonate-server
                      default: async-tools/${SERVER_INFO.name}/jobs.db under the user data directory
                      ($XDG_DATA_HOME or ~/.local/share, ~/Library/Application Support on macOS,
                      %LOCALAPPDATA% on Windows); here: ${storeFile}
  --await-seconds N   how long await_result blocks by default (default 45); lower it to fit a host's
                      tool-call timeout, e.g. 25 for a 30 s timeout
  --lease-seconds N   the lease of a running job (default 60): how long another process of a shared store
                      waits before it takes over the job of a process that died without a sign
  --confirm-above N   a job of more than N requests to Open-Meteo (several places or months) asks the
                      user to confirm first (default ${WEATHER_DEFAULTS.confirmAbove}; 0 asks for every such job)
  --token T           with --http: require "Authorization: Bearer T" (env ASYNC_TOOLS_HTTP_TOKEN)
  --token NAME=T      repeatable: one token per caller; each caller sees only the jobs it started
  --operator NAME     repeatable: the caller NAME (of --token NAME=T) sees every job on the dashboard
  --allow-unauthenticated
                      with --http and a --host beyond loopback: serve with no token on purpose (without
                      it the server refuses: anyone who reaches it could start, read and cancel jobs)
  --sdk v1|v2         the MCP SDK generation to serve with (default v2, which speaks 2026-07-28 and
                      2025-11-25); v1 speaks 2025-11-25 only
  --print-config H    print the MCP config entry for host H (${Object.keys(HOSTS).join(", ")}) and exit
  -h, --help          this text
  -v, --version       the version

Jobs (on the same store as the server: --store, ASYNC_TOOLS_STORE, else the default above)
  ${NAME} jobs list|show ID|cancel ID|retry ID|prune   look at and manage the jobs
  ${NAME} store info       where the store is, its size, jobs by status
  ${NAME} dashboard        a live web dashboard of the jobs on 127.0.0.1 (${NAME} jobs --help)

Environment
  ASYNC_TOOLS_STORE        the store, as --store
  ASYNC_TOOLS_AWAIT_SECONDS  the await bound, as --await-seconds (the flag wins)
  ASYNC_TOOLS_LEASE_SECONDS  the lease of a running job, as --lease-seconds (the flag wins)
  WEATHER_CONFIRM_ABOVE    as --confirm-above (the flag wins)
  ASYNC_TOOLS_LOG          debug, info (default), warn, error or silent; logs go to stderr
  ASYNC_TOOLS_HTTP_TOKEN   the bearer token, as --token
  OPEN_METEO_ARCHIVE_URL   the archive endpoint (default ${DEFAULT_ARCHIVE_URL})
  WEATHER_RETRY_INITIAL_MS first delay before retrying Open-Meteo, in ms (default 1000)

Needs Node.js >= 22.18. Docs: https://github.com/async-tools/async-tools/blob/main/docs/hosts.md
`;
}

/** Thrown for a command line that cannot be run; the CLI prints its message with {@link USAGE} and exits 2. */
class UsageError extends Error {}

/** The host config entry that runs this package through npx, with the flags that shape the server. */
function hostConfig(host: Host, serverArgs: readonly string[]): unknown {
  const args = ["-y", PACKAGE, ...serverArgs];
  if (host === "vscode") return { servers: { weather: { type: "stdio", command: "npx", args } } };
  return { mcpServers: { weather: { command: "npx", args } } };
}

function seconds(raw: string, flag = "--await-seconds"): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${flag} must be a positive number of seconds, got ${raw.slice(0, 20)}`);
  }
  return value;
}

function requestCount(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < 0) {
    throw new UsageError(
      `--confirm-above must be a whole number of requests (0 or more), got ${raw.slice(0, 20)}`,
    );
  }
  return value;
}

/**
 * Runs the command line `argv` (without the node and script paths). Resolves once the server is serving
 * (it keeps the process alive) or the command has printed its answer; sets `process.exitCode` on errors.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const words = argv[0] === "--" ? argv.slice(1) : [...argv];
  if (words[0] !== undefined && OPERATOR_COMMANDS.has(words[0])) {
    const { runOperatorCli } = await import("@async-tools/core/cli");
    process.exitCode = await runOperatorCli(words, { program: NAME, defaultStore: await defaultStore() });
    return;
  }
  try {
    const { values } = parse(argv);
    if (values.help) {
      process.stdout.write(help(await defaultStore()));
      return;
    }
    if (values.version) {
      process.stdout.write(`${packageJson.version}\n`);
      return;
    }
    if (values.sdk !== "v1" && values.sdk !== "v2") {
      throw new UsageError(`--sdk takes v1 or v2, got ${values.sdk.slice(0, 20)}`);
    }
    const printConfig = values["print-config"];
    const awaitSeconds = values["await-seconds"] === undefined ? undefined : seconds(values["await-seconds"]);
    const leaseRaw = values["lease-seconds"] ?? (process.env.ASYNC_TOOLS_LEASE_SECONDS?.trim() || undefined);
    const leaseSeconds = leaseRaw === undefined ? undefined : seconds(leaseRaw, "--lease-seconds");
    const confirmAbove =
      values["confirm-above"] === undefined ? undefined : requestCount(values["confirm-above"]);
    if (printConfig !== undefined) {
      if (!Object.hasOwn(HOSTS, printConfig)) {
        throw new UsageError(
          `--print-config takes ${Object.keys(HOSTS).join(", ")}, got ${printConfig.slice(0, 20)}`,
        );
      }
      // The default SDK needs no flag; another one must reach the server the host starts.
      const serverArgs = [
        ...(values.sdk === OPTIONS.sdk.default ? [] : ["--sdk", values.sdk]),
        ...(values.store === undefined ? [] : ["--store", values.store]),
        ...(awaitSeconds === undefined ? [] : ["--await-seconds", String(awaitSeconds)]),
        ...(values["lease-seconds"] === undefined ? [] : ["--lease-seconds", String(leaseSeconds)]),
        ...(confirmAbove === undefined ? [] : ["--confirm-above", String(confirmAbove)]),
      ];
      process.stdout.write(`${JSON.stringify(hostConfig(printConfig as Host, serverArgs), null, 2)}\n`);
      process.stderr.write(`Merge this into ${HOSTS[printConfig as Host]}, then restart the host.\n`);
      return;
    }
    await serve({ ...values, awaitSeconds, leaseSeconds, confirmAbove });
  } catch (error) {
    if (!(error instanceof UsageError) && !isParseArgsError(error)) throw error;
    process.stderr.write(`${NAME}: ${(error as Error).message.split("\n")[0]} (${USAGE})\n`);
    process.exitCode = 2;
  }
}

function parse(argv: readonly string[]) {
  // `pnpm start -- --http` passes the `--` through; people type it out of npm habit.
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
}

/** node:util's parseArgs throws TypeErrors with an ERR_PARSE_ARGS_* code for unknown or malformed flags. */
function isParseArgsError(error: unknown): boolean {
  return (
    error instanceof TypeError && String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")
  );
}

async function serve(
  values: ReturnType<typeof parse>["values"] & {
    awaitSeconds: number | undefined;
    leaseSeconds: number | undefined;
    confirmAbove: number | undefined;
  },
): Promise<void> {
  const runtimeOptions = {
    ...(values.leaseSeconds === undefined ? {} : { leaseMs: values.leaseSeconds * 1000 }),
    ...(values.store === undefined ? {} : { store: values.store }),
    ...(values.awaitSeconds === undefined ? {} : { awaitDefaultMs: values.awaitSeconds * 1000 }),
    ...(values.confirmAbove === undefined ? {} : { confirmAbove: values.confirmAbove }),
  };
  const v2 = values.sdk === "v2" ? await import("./server-v2.ts") : undefined;
  if (v2 !== undefined && !values.http) {
    // The v2 stdio entry opens the runtime itself, after the client's discovery probe (see server-v2.ts).
    const serving = v2.serveWeatherStdioV2(runtimeOptions);
    void serving.runtime.then((runtime) =>
      process.stderr.write(`${NAME}: jobs are stored in ${runtime.store.description}\n`),
    );
    const stop = () => void serving.close().finally(() => process.exit(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    return;
  }
  const port = Number(values.port);
  if (values.http && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got ${values.port.slice(0, 20)}`);
  }
  // Jobs interrupted by a crash resume from here on, whether or not a client ever connects.
  const runtime = await createWeatherRuntime(runtimeOptions);
  process.stderr.write(`${NAME}: jobs are stored in ${runtime.store.description}\n`);
  const shutdown = async () => {
    await runtime.close().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  if (values.http) {
    // Loaded only here: the HTTP server and the dashboard cost a stdio server's cold start for nothing.
    const [{ serveHttp, tokenAuth }, { dashboardRoute }] = await Promise.all([
      import("@async-tools/core/http"),
      import("@async-tools/core/dashboard"),
    ]);
    const env = process.env.ASYNC_TOOLS_HTTP_TOKEN;
    const auth = tokenAuth(values.token ?? (env ? [env] : []));
    const open = values["allow-unauthenticated"];
    const http = await serveHttp(runtime, {
      port,
      host: values.host,
      ...(auth === undefined ? {} : { auth }),
      ...(open ? { allowUnauthenticated: true } : {}),
      routes: { "/jobs": dashboardRoute(runtime, { operators: values.operator ?? [] }) },
      mcp: v2?.weatherHandlerV2(runtime) ?? createMcpHandler(runtime, { server: () => buildServer(runtime) }),
    }).catch(async (error: unknown) => {
      await runtime.close().catch(() => undefined);
      // With no auth and no flag, the configuration serveHttp refuses is the open non-loopback host.
      if (
        auth === undefined &&
        !open &&
        error instanceof AsyncToolsError &&
        error.code === "INVALID_CONFIG"
      ) {
        throw new UsageError(
          `refusing to listen on ${values.host.slice(0, 64)} without --token: anyone who reaches it could start, ` +
            "read and cancel jobs; give --token, or --allow-unauthenticated to serve it open on purpose",
        );
      }
      throw error;
    });
    process.stderr.write(`${NAME}: listening on ${http.url}\n`);
    return;
  }
  // The transport closes the runtime when stdin ends (the host quit).
  await buildServer(runtime).connect(createStdioTransport({ runtime }));
}
