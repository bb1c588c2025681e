/** Runs a child process to its end and collects what it printed, for tests of the command line. */
import { spawn } from "node:child_process";

/** How a child process ended: its exit code, its whole output and how long it ran. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `command args` with `env` (default: this process's) and no stdin; resolves when it has closed. A child
 * still running after `timeoutMs` is killed with SIGKILL (then `code` is null).
 */
export function runProcess(
  command: string,
  args: readonly string[],
  { env = process.env, timeoutMs }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> {
  const began = Date.now();
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - began });
    }),
  );
}
