/**
 * `pnpm release`: the one command of a release, run by a maintainer on an up-to-date `main` after `npm login`.
 * 1. Versions: `changeset version` applies the pending changesets (versions, CHANGELOGs), then the lockfile
 *    and apps/weather/server.json follow, and it commits "Release".
 * 2. Checks what users will get: the build, the pack check (both tarballs installed and run), and the audit of
 *    the packages bundled into the weather bin, which must reach the registry's advisories (`--require`).
 * 3. Publishes with `changeset publish` (every package whose version is not on the registry yet, with npm
 *    provenance where the environment can sign it: GitHub Actions with `id-token: write`), then pushes the
 *    commit and the tags it made.
 *
 * `--dry-run --registry URL` is what CI runs against a local registry: it publishes the current versions to URL
 * and leaves out what belongs to a real release (versioning, the commit, tags, the push, provenance) and the
 * pack check, which CI runs as a step of its own.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { "dry-run": { type: "boolean", default: false }, registry: { type: "string" } },
});
const dryRun = values["dry-run"];
if (dryRun && values.registry === undefined) {
  throw new Error("release: --dry-run publishes to a local registry: give it with --registry URL");
}
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...(values.registry === undefined ? {} : { npm_config_registry: values.registry }),
};

function step(title: string, cmd: string, args: string[]): void {
  process.stderr.write(`release: ${title}: ${cmd} ${args.join(" ")}\n`);
  execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], env });
}

if (!dryRun) {
  const pending = readdirSync(join(root, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md");
  if (pending.length > 0) {
    step("version", "pnpm", ["version-packages"]);
    step("commit", "git", ["commit", "-am", "Release"]);
  }
}
step("build", "pnpm", ["build"]);
if (!dryRun) step("pack check", "pnpm", ["--filter", "@async-tools/core", "pack:check"]);
step("audit the bundled packages", "pnpm", [
  "--filter",
  "@async-tools/weather",
  "audit:bundled",
  ...(dryRun ? [] : ["--require"]),
]);
if (!dryRun && process.env.GITHUB_ACTIONS === "true") env.npm_config_provenance = "true";
else if (!dryRun)
  process.stderr.write("release: no provenance outside GitHub Actions (it needs its OIDC token)\n");
// The build above is what gets packed; a dry run skips each package's prepack, which would build it again.
if (dryRun) env.npm_config_ignore_scripts = "true";
step("publish", "pnpm", ["exec", "changeset", "publish", ...(dryRun ? ["--no-git-tag"] : [])]);
if (!dryRun) step("push", "git", ["push", "--follow-tags"]);
