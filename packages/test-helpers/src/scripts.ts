/**
 * The plumbing of the release scripts that prove a package from its tarball (core's `pack:check`, weather's
 * `bundle`): a clean environment for what they start, logged commands, `pnpm pack` into a folder.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * This process's environment for what a release script starts, without what would leak the workspace into
 * it (`NODE_PATH`) or choose its store or upstream behind its back; plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const key of ["NODE_PATH", "RESONATE_URL", "ASYNC_TOOLS_STORE", "OPEN_METEO_ARCHIVE_URL"])
    delete env[key];
  return { ...env, ...extra };
}

/** A script's log: one `<name>: <message>` line on stderr per call. */
export function scriptLog(name: string): (message: string) => void {
  return (message) => {
    process.stderr.write(`${name}: ${message}\n`);
  };
}

/** Runs `cmd args` in `cwd` with its output on this process's, after logging it; throws on a non-zero exit. */
export function runLogged(
  log: (message: string) => void,
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = cleanEnv(),
): void {
  log(`${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"], env });
}

/** `pnpm pack`s the package in `dir` into `into` (its `prepack` builds it); resolves to the tarball's path. */
export function packInto(
  log: (message: string) => void,
  dir: string,
  into: string,
  env = cleanEnv(),
): string {
  const before = new Set(readdirSync(into));
  runLogged(log, "pnpm", ["pack", "--pack-destination", into], dir, env);
  const tarball = readdirSync(into).find((file) => file.endsWith(".tgz") && !before.has(file));
  if (!tarball) throw new Error(`pnpm pack gave no tarball in ${dir}`);
  return join(into, tarball);
}
