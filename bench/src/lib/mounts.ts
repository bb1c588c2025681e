/**
 * Small tmpfs mounts for store faults: a read-only directory, and a tiny disk that fills up. Needs root (or
 * CAP_SYS_ADMIN); where mounting is refused the checks that need it are skipped with the reason.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

/** A mounted tmpfs, unmounted on dispose. */
export interface Tmpfs {
  path: string;
  remount(options: string): void;
  [Symbol.dispose](): void;
}

/** Mounts a tmpfs with `options` (e.g. `size=1m,ro`) at `path`; throws with mount's message when refused. */
export function mountTmpfs(path: string, options: string): Tmpfs {
  mkdirSync(path, { recursive: true });
  run(["-t", "tmpfs", "-o", options, "tmpfs", path]);
  return {
    path,
    remount: (more) => run(["-o", `remount,${more}`, path]),
    [Symbol.dispose]: () => {
      try {
        execFileSync("umount", [path], { stdio: "pipe" });
      } catch {
        execFileSync("umount", ["-l", path], { stdio: "pipe" });
      }
    },
  };
}

function run(args: string[]): void {
  try {
    execFileSync("mount", args, { stdio: "pipe" });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`mount ${args.join(" ")} failed: ${stderr || (error as Error).message}`);
  }
}

/** Whether this process may mount a tmpfs, and if not, why. */
export function canMount(probe: string): { ok: true } | { ok: false; why: string } {
  try {
    using _mount = mountTmpfs(probe, "size=64k");
    return { ok: true };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}
