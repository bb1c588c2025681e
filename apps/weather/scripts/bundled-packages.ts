/**
 * The third-party packages bundled into the weather bin (`dist/cli`), with their versions: bundled code does not
 * get its dependencies' security fixes until the next release, so CI audits this list (`audit-bundled.ts`).
 * esbuild keeps each bundled file's path in a comment (`// ../../node_modules/.pnpm/…/node_modules/zod/…`);
 * the package.json beside that path names the package and its version.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";

/** One bundled package: its name, the version that was bundled, and its licence. */
export interface BundledPackage {
  name: string;
  version: string;
  license: string;
}

/** A bundled file's path comment that runs through node_modules; group 1 is the path. */
const PATH_COMMENT = /^\/\/ (\S*node_modules\/\S+)$/gm;

/**
 * The packages whose files esbuild bundled into the `.js` files of `dist` (paths in its comments are relative to
 * `root`, the package that was built), sorted by name and version. A path whose package.json cannot be found
 * throws: the list must not silently miss a package.
 */
export function bundledPackages(root: string, dist: string): BundledPackage[] {
  const found = new Map<string, BundledPackage>();
  const seenDirs = new Set<string>();
  for (const file of readdirSync(dist).filter((name) => name.endsWith(".js"))) {
    for (const [, path = ""] of readFileSync(join(dist, file), "utf8").matchAll(PATH_COMMENT)) {
      const dir = packageDir(resolve(root, path));
      if (seenDirs.has(dir)) continue;
      seenDirs.add(dir);
      const manifest = join(dir, "package.json");
      if (!existsSync(manifest)) throw new Error(`no package.json for the bundled file ${path} (at ${dir})`);
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as {
        name: string;
        version: string;
        license?: string;
      };
      found.set(`${pkg.name}@${pkg.version}`, {
        name: pkg.name,
        version: pkg.version,
        license: pkg.license ?? "UNKNOWN",
      });
    }
  }
  return [...found.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
}

/** The package folder of a file inside node_modules: `…/node_modules/name` or `…/node_modules/@scope/name`. */
function packageDir(file: string): string {
  const marker = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(marker);
  const [first = "", second = ""] = file.slice(at + marker.length).split(sep);
  return file.slice(0, at + marker.length) + (first.startsWith("@") ? join(first, second) : first);
}

/** The severities npm's advisories carry, least severe first. */
export const SEVERITIES = ["info", "low", "moderate", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One advisory as the bulk endpoint returns it (the fields read here). */
export interface Advisory {
  id: number;
  title: string;
  url: string;
  severity: Severity;
  vulnerable_versions: string;
}

/** The bulk endpoint's answer: the advisories that affect the versions asked about, by package name. */
export type BulkAdvisories = Record<string, Advisory[]>;

/** The body the bulk endpoint takes: every bundled version of each package. */
export function auditRequest(packages: readonly BundledPackage[]): Record<string, string[]> {
  const body: Record<string, string[]> = {};
  for (const pkg of packages) body[pkg.name] = [...(body[pkg.name] ?? []), pkg.version];
  return body;
}

/** The advisories at `level` or above, one line each, most severe first. */
export function findings(advisories: BulkAdvisories, level: Severity): string[] {
  const floor = SEVERITIES.indexOf(level);
  return Object.entries(advisories)
    .flatMap(([name, list]) => list.map((advisory) => ({ name, advisory })))
    .filter(({ advisory }) => SEVERITIES.indexOf(advisory.severity) >= floor)
    .sort((a, b) => SEVERITIES.indexOf(b.advisory.severity) - SEVERITIES.indexOf(a.advisory.severity))
    .map(
      ({ name, advisory }) =>
        `${advisory.severity} ${name} ${advisory.vulnerable_versions}: ${advisory.title} (${advisory.url})`,
    );
}

/** What the registry's abbreviated packument says about a package's versions (the fields read here). */
export interface Packument {
  versions: Record<string, { deprecated?: string }>;
}

/**
 * The offline-from-advisories check, from what a plain GET of the registry gives: a bundled version npm marks
 * deprecated (a problem: the list's `problems`), and a newer patch of the bundled minor (a note: security fixes
 * usually ship as patches, so the next release should take it).
 */
export function staleness(pkg: BundledPackage, packument: Packument): { problem?: string; note?: string } {
  const deprecated = packument.versions[pkg.version]?.deprecated;
  const [major, minor, patch] = pkg.version.split(".").map(Number);
  const newer = Object.keys(packument.versions)
    .filter((version) => /^\d+\.\d+\.\d+$/.test(version))
    .map((version) => version.split(".").map(Number))
    .filter(([a, b, c = 0]) => a === major && b === minor && c > (patch ?? 0))
    .sort((x, y) => (y[2] ?? 0) - (x[2] ?? 0))[0];
  return {
    ...(deprecated === undefined
      ? {}
      : { problem: `${pkg.name}@${pkg.version} is deprecated: ${deprecated}` }),
    ...(newer === undefined ? {} : { note: `${pkg.name}@${pkg.version}: ${newer.join(".")} is out` }),
  };
}
