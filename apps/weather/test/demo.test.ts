/**
 * `pnpm demo` end to end: the demo runs offline as a child process, as a new user (or CI) would run it, and
 * must show its three points, exit 0 and leave no process or temp store behind. Also `config:claude`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { alive } from "@async-tools/test-helpers/children";
import { must } from "@async-tools/test-helpers/must";
import { type Run, runProcess } from "@async-tools/test-helpers/run-process";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");

function run(script: string, args: string[], timeoutMs = 55_000): Promise<Run> {
  return runProcess(process.execPath, ["--conditions=@async-tools/source", join(SRC, script), ...args], {
    env: { ...process.env, CI: "true" },
    timeoutMs,
  });
}

const CITIES = ["Calgary", "Edmonton", "Banff", "Vancouver", "Toronto"];
const number = String.raw`-?\d+\.\d`;

describe("pnpm demo --offline", () => {
  it("gathers five cities, shows dedup and recovery after SIGKILL, and exits 0 leaving nothing behind", async () => {
    const { code, stdout, stderr, ms } = await run("demo/main.ts", ["--offline"]);
    const context = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, context).toBe(0);
    expect(ms).toBeLessThan(55_000);
    expect(stdout.includes("\u001b["), "no ANSI codes off a TTY").toBe(false);

    for (const city of CITIES) {
      const summary = new RegExp(
        String.raw`^  ${city}\s+${number}\s+${number}\s+${number}\s+\d+\.\d\s+(2024-01-\d\d\s+\d+\.\d mm|dry month)$`,
        "m",
      );
      expect(stdout, context).toMatch(summary);
    }

    const calgary = /^ {2}Calgary\s+completed\s+100%.*(weather_data-[0-9a-f]{16})$/m;
    const firstName = calgary.exec(stdout)?.[1];
    expect(firstName, context).toBeDefined();
    expect(stdout).toContain(
      `same job_name ${firstName}, created: false, status: completed; archive requests 5 → 5`,
    );

    expect(stdout).toMatch(/SIGKILL server pid \d+ with 3 of 3 jobs in flight/);
    expect(stdout).toMatch(
      /recovered 3\/3 jobs under their original job_names in \d+\.\d s after the restart/,
    );
    expect(stdout).toContain("archive requests 8 → 11: each interrupted request ran once more");
    expect(stdout).toContain("pnpm --silent --filter @async-tools/weather config:claude");

    const pids = [...stdout.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(alive(pid), `server pid ${pid} still running`).toBe(false);
    const store = must(/sqlite:(\S+)/.exec(stdout)?.[1], "the sqlite store path in the demo output");
    expect(existsSync(store), `${store} left behind`).toBe(false);
  });

  it("refuses an unknown option with its usage and exit code 2", async () => {
    const { code, stdout, stderr } = await run("demo/main.ts", ["--online-only"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/--online-only[\s\S]*usage: pnpm demo \[--offline\]/);
  });
});

describe("config:claude", () => {
  it("prints a Claude Desktop entry that runs this checkout's server with this Node", async () => {
    const { code, stdout, stderr } = await run("claude-config.ts", []);
    expect(code).toBe(0);
    const entry = JSON.parse(stdout) as {
      mcpServers: { weather: { command: string; args: string[]; env: Record<string, string> } };
    };
    const { command, args, env } = entry.mcpServers.weather;
    expect(command).toBe(process.execPath);
    expect(args).toEqual(["--conditions=@async-tools/source", join(SRC, "main.ts")]);
    expect(existsSync(must(args[1], "the server entry in args"))).toBe(true);
    expect(env.ASYNC_TOOLS_STORE).toMatch(/\.async-tools[\\/]jobs\.db$/);
    expect(stderr).toMatch(/claude_desktop_config\.json.*macOS.*Windows.*Linux/);
  });
});
