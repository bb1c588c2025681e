/**
 * Runs the official conformance CLI (`@modelcontextprotocol/conformance`, pinned in the workspace catalog)
 * against a served endpoint and reads the checks each scenario wrote, so a test can assert them one by one.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CLI = join(import.meta.dirname, "..", "node_modules", ".bin", "conformance");

/** One check of a scenario, as the CLI writes it to `checks.json`. */
export interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO";
  description: string;
  errorMessage?: string;
}

/** What a run of the CLI left: its output, and the checks of each scenario it ran, by scenario name. */
export interface ConformanceRun {
  output: string;
  scenarios: Map<string, Check[]>;
}

/**
 * Runs the CLI with `args` (after `server --url <url>`); resolves whatever its exit code (a failing check makes
 * it non-zero), with the checks of each scenario it ran.
 */
export async function runConformance(
  url: string,
  args: string[],
  timeoutMs: number,
): Promise<ConformanceRun> {
  const outDir = mkdtempSync(join(tmpdir(), "conformance-"));
  try {
    const output = await new Promise<string>((resolve) => {
      execFile(
        CLI,
        ["server", "--url", url, ...args, "--output-dir", outDir],
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (_error, stdout, stderr) => resolve(`${stdout}${stderr}`),
      );
    });
    const scenarios = new Map<string, Check[]>();
    for (const entry of readdirSync(outDir)) {
      // `server-<scenario>-<ISO timestamp with dashes>`
      const scenario = entry.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
      const file = join(outDir, entry, "checks.json");
      scenarios.set(scenario, JSON.parse(readFileSync(file, "utf8")) as Check[]);
    }
    return { output, scenarios };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
