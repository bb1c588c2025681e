/**
 * The `async-tools-weather` command line as a user meets it: `--help`, `--version`, `--print-config` on
 * stdout with exit 0, one usage line and exit 2 for a wrong flag, `--await-seconds` reaching the await tool,
 * and the published bin's one-line answer on a Node that is too old (the machine's own Node 20, when it has
 * one).
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { must } from "@async-tools/test-helpers/must";
import { runProcess } from "@async-tools/test-helpers/run-process";
import { describe, expect, it } from "vitest";
import { stdioRigs } from "./harness.ts";

const ROOT = join(import.meta.dirname, "..");
const MAIN = join(ROOT, "src", "main.ts");
const BIN = join(ROOT, "bin", "async-tools-weather.js");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

const cli = (...args: string[]) =>
  runProcess(process.execPath, ["--conditions=@async-tools/source", MAIN, ...args]);

/** A `node` older than 22.18 on PATH or in the system's usual places (this machine's Node 20), if any. */
function oldNode(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin"];
  for (const candidate of dirs.filter((dir) => dir !== "").map((dir) => join(dir, "node"))) {
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      const [major = 0, minor = 0] = version.slice(1).split(".").map(Number);
      if (major < 22 || (major === 22 && minor < 18)) return candidate;
    } catch {
      // Not there, or not runnable: try the next one.
    }
  }
  return undefined;
}

/**
 * Starts the CLI with `args` and resolves at its first `listening on URL` line (with the child, to stop) or
 * when it exits, whichever comes first.
 */
function listenOrExit(
  args: string[],
): Promise<{ url?: string; code?: number | null; stderr: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--conditions=@async-tools/source", MAIN, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ASYNC_TOOLS_HTTP_TOKEN: "" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  let stderr = "";
  return new Promise((resolve) => {
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url !== undefined) resolve({ url, stderr, stop });
    });
    child.once("close", (code) => resolve({ code, stderr, stop }));
  });
}

describe("async-tools-weather's flags", () => {
  it("prints its help on stdout, naming transports, flags, environment and the default store", async () => {
    const { code, stdout, stderr } = await cli("--help");
    expect(code).toBe(0);
    expect(stderr).toBe("");
    for (const part of ["--http", "--port", "--token", "--store", "--await-seconds", "--print-config"]) {
      expect(stdout).toContain(part);
    }
    for (const env of ["ASYNC_TOOLS_STORE", "ASYNC_TOOLS_LOG", "OPEN_METEO_ARCHIVE_URL"]) {
      expect(stdout).toContain(env);
    }
    expect(stdout).toContain(
      "default: async-tools/async-tools-weather/jobs.db under the user data directory",
    );
    expect((await cli("-h")).stdout).toBe(stdout);
  });

  it("refuses --http on every interface without a token, naming --allow-unauthenticated", async () => {
    const refused = await listenOrExit(["--http", "--host", "0.0.0.0", "--port", "0", "--store", "memory"]);
    await refused.stop();
    expect(refused.url).toBeUndefined();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--allow-unauthenticated");
  });

  it("serves every interface without a token when told to, answering on loopback", async () => {
    const open = await listenOrExit([
      ...["--http", "--host", "0.0.0.0", "--port", "0", "--store", "memory", "--allow-unauthenticated"],
    ]);
    try {
      const url = new URL(must(open.url, open.stderr));
      expect(url.hostname).toBe("0.0.0.0");
      // Loopback only: the wildcard socket answers 127.0.0.1 as it would any interface.
      expect((await fetch(`http://127.0.0.1:${url.port}/healthz`)).status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  it("prints its version and exits 0, also after the -- that pnpm passes through", async () => {
    expect(await cli("--version")).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    expect(await cli("--", "--version")).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it.each([
    ["--bogus"],
    ["--await-seconds", "soon"],
    ["--lease-seconds", "0"],
    ["--confirm-above", "many"],
    ["--confirm-above", "-1"],
    ["--print-config", "emacs"],
    ["--print-config", "toString"],
    ["stray"],
    ["--port"],
  ])("answers %s with one usage line on stderr and exit code 2", async (...args) => {
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^async-tools-weather: .*usage: async-tools-weather \[--http/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("carries --lease-seconds and --confirm-above into the host's entry", async () => {
    const { code, stdout } = await cli(
      "--print-config",
      "cursor",
      "--lease-seconds",
      "90",
      "--confirm-above",
      "20",
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      mcpServers: {
        weather: {
          command: "npx",
          args: ["-y", "@async-tools/weather", "--lease-seconds", "90", "--confirm-above", "20"],
        },
      },
    });
  });

  it("prints a Claude Desktop entry that runs the package with npx, as pure JSON", async () => {
    const { code, stdout, stderr } = await cli("--print-config", "claude", "--await-seconds", "25");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      mcpServers: {
        weather: { command: "npx", args: ["-y", "@async-tools/weather", "--await-seconds", "25"] },
      },
    });
    expect(stderr).toContain("claude_desktop_config.json");
  });

  it("says the v2 SDK is the default, and keeps --sdk v1 in the entry it prints", async () => {
    expect((await cli("--help")).stdout).toMatch(/--sdk v1\|v2 +.*\(default v2\b/);
    const { code, stdout } = await cli("--print-config", "cursor", "--sdk", "v1");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      mcpServers: { weather: { command: "npx", args: ["-y", "@async-tools/weather", "--sdk", "v1"] } },
    });
  });

  it("prints VS Code's servers entry with its stdio type", async () => {
    const { stdout } = await cli("--print-config", "vscode");
    expect(JSON.parse(stdout)).toEqual({
      servers: { weather: { type: "stdio", command: "npx", args: ["-y", "@async-tools/weather"] } },
    });
  });
});

describe("--await-seconds", () => {
  const setup = stdioRigs();

  it("bounds an await_result that names no timeout", async () => {
    const { start } = await setup({ latencyMs: 30_000 });
    const server = await start(["--await-seconds", "1"]);
    const { job_name } = structured<{ job_name: string }>(
      await server.call("start_gathering", { latitude: 51.05, longitude: -114.07, year: 2024, month: 1 }),
    );
    const began = Date.now();
    const out = structured<{ done: boolean }>(await server.call("await_result", { job_names: [job_name] }));
    expect(out.done).toBe(false);
    // Well under the 45 s default and the fake's 30 s, with room for two busy cores.
    expect(Date.now() - began).toBeLessThan(10_000);
  });
});

const node20 = oldNode();

describe.skipIf(node20 === undefined)("the published bin on an old Node", () => {
  it("prints one line naming the required version and how to get it, and exits 1", async () => {
    const oldNodeBin = must(node20, "an old Node (the suite skips without one)");
    const { code, stdout, stderr } = await runProcess(oldNodeBin, [BIN, "--version"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/needs Node\.js 22\.18 or later, and this is v\d+\./);
    expect(stderr).toContain("npx -y -p node@24 -p @async-tools/weather async-tools-weather");
  });
});
