/**
 * `pnpm --filter @async-tools/weather audit:bundled` lists the packages bundled into the built bin
 * (`dist/cli`) with their versions (on stderr) and asks the npm registry's bulk advisory endpoint (what
 * `npm audit` uses) about exactly those versions. Any advisory at `--level` (default `moderate`) or above
 * fails it.
 *
 * Before that, and whatever the endpoint answers, it GETs each package's abbreviated packument from the
 * registry: a bundled version npm marks deprecated fails it, a newer patch of the bundled minor is printed.
 * Where the advisory endpoint cannot be reached (a network that allows only GETs to the registry answers 405),
 * that check alone runs and it says so, unless `--require` is given: `pnpm release` gives it, so no release
 * ships bundled code whose advisories were not read.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  auditRequest,
  type BulkAdvisories,
  bundledPackages,
  findings,
  type Packument,
  SEVERITIES,
  type Severity,
  staleness,
} from "./bundled-packages.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      level: { type: "string", default: "moderate" },
      require: { type: "boolean", default: false },
    },
  });
  const level = values.level as Severity;
  if (!SEVERITIES.includes(level)) throw new Error(`--level takes ${SEVERITIES.join(", ")}, got ${level}`);
  const app = join(import.meta.dirname, "..");
  const packages = bundledPackages(app, join(app, "dist", "cli"));
  if (packages.length === 0) throw new Error("no bundled package found in dist/cli: run pnpm build first");
  for (const pkg of packages) log(`bundled ${pkg.name}@${pkg.version} (${pkg.license})`);
  // npm's own registry whatever npm_config_registry says: the advisories and deprecations are kept there.
  const registry = "https://registry.npmjs.org/";

  // The registry's view of each bundled version, from plain GETs: deprecated versions, newer patches.
  const problems: string[] = [];
  for (const pkg of packages) {
    const response = await fetch(`${registry}${pkg.name.replace("/", "%2f")}`, {
      headers: { accept: "application/vnd.npm.install-v1+json" },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`${registry}${pkg.name} answered ${response.status}`);
    const { problem, note } = staleness(pkg, (await response.json()) as Packument);
    if (note !== undefined) log(`note: ${note}`);
    if (problem !== undefined) problems.push(problem);
  }

  // The advisories, from the endpoint `npm audit` uses.
  const endpoint = `${registry}-/npm/v1/security/advisories/bulk`;
  let advisories: BulkAdvisories | undefined;
  let unreachable = "";
  try {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(auditRequest(packages)),
      signal: AbortSignal.timeout(30_000),
    });
    if (response.ok) advisories = (await response.json()) as BulkAdvisories;
    else unreachable = `${endpoint} answered ${response.status}`;
  } catch (error) {
    unreachable = `${endpoint}: ${(error as Error).message}`;
  }
  if (advisories === undefined) {
    log(`could not read the advisories (${unreachable}); only the registry's deprecations were checked`);
    if (values.require) problems.push("the advisories could not be read, and --require asks for them");
  } else {
    problems.push(...findings(advisories, level));
  }
  for (const problem of problems) log(`problem: ${problem}`);
  log(`${packages.length} bundled packages, ${problems.length} problems`);
  return problems.length === 0 ? 0 : 1;
}

function log(message: string): void {
  process.stderr.write(`audit-bundled: ${message}\n`);
}

process.exitCode = await main();
