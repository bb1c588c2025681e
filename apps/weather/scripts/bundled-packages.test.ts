import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  auditRequest,
  type BulkAdvisories,
  bundledPackages,
  findings,
  staleness,
} from "./bundled-packages.ts";

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A package folder in a pnpm-style node_modules under `root`, with its package.json. */
function pkg(path: string, manifest: Record<string, string>): void {
  mkdirSync(join(root, path, "lib"), { recursive: true });
  writeFileSync(join(root, path, "package.json"), JSON.stringify(manifest));
}

describe("bundledPackages", () => {
  it("names each package whose files esbuild's path comments show, with the bundled version", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    pkg("node_modules/.pnpm/zod@4.6.7/node_modules/zod", { name: "zod", version: "4.6.7", license: "MIT" });
    pkg("node_modules/.pnpm/@scope+lib@1.2.3/node_modules/@scope/lib", {
      name: "@scope/lib",
      version: "1.2.3",
    });
    mkdirSync(join(root, "app", "dist"), { recursive: true });
    writeFileSync(
      join(root, "app", "dist", "main.js"),
      [
        "// src/cli.ts",
        "// ../node_modules/.pnpm/zod@4.6.7/node_modules/zod/v4/core/core.js",
        "var a = 1;",
        "// ../node_modules/.pnpm/zod@4.6.7/node_modules/zod/v4/classic/schemas.js",
        "// ../node_modules/.pnpm/@scope+lib@1.2.3/node_modules/@scope/lib/lib/index.js",
      ].join("\n"),
    );
    writeFileSync(join(root, "app", "dist", "main.js.map"), "// ../node_modules/not/read.js");

    expect(bundledPackages(join(root, "app"), join(root, "app", "dist"))).toEqual([
      { name: "@scope/lib", version: "1.2.3", license: "UNKNOWN" },
      { name: "zod", version: "4.6.7", license: "MIT" },
    ]);
  });

  it("refuses a bundled path whose package cannot be found rather than leave it out of the audit", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    mkdirSync(join(root, "dist"));
    writeFileSync(join(root, "dist", "main.js"), "// ../node_modules/gone/index.js\n");
    expect(() => bundledPackages(root, join(root, "dist"))).toThrow(/no package.json for the bundled file/);
  });
});

describe("the audit of the bundled versions", () => {
  it("asks about every bundled version of each package", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    const packages = [
      { name: "zod", version: "4.6.7", license: "MIT" },
      { name: "zod", version: "3.25.0", license: "MIT" },
      { name: "hono", version: "4.13.19", license: "MIT" },
    ];
    expect(auditRequest(packages)).toEqual({ zod: ["4.6.7", "3.25.0"], hono: ["4.13.19"] });
  });

  it("reports the advisories at the level or above, most severe first", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    const advisory = (id: number, severity: BulkAdvisories[string][number]["severity"]) => ({
      id,
      title: `issue ${id}`,
      url: `https://github.com/advisories/${id}`,
      severity,
      vulnerable_versions: "<4.14.0",
    });
    const answer: BulkAdvisories = {
      hono: [advisory(1, "low"), advisory(2, "moderate")],
      zod: [advisory(3, "high")],
    };
    expect(findings(answer, "moderate")).toEqual([
      "high zod <4.14.0: issue 3 (https://github.com/advisories/3)",
      "moderate hono <4.14.0: issue 2 (https://github.com/advisories/2)",
    ]);
    expect(findings({}, "low")).toEqual([]);
  });
});

describe("the check from the registry's packuments", () => {
  const zod = { name: "zod", version: "4.6.7", license: "MIT" };

  it("notes a newer patch of the bundled minor and ignores other minors and prereleases", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    const versions = { "4.6.7": {}, "4.6.9": {}, "4.6.8": {}, "4.7.0": {}, "4.6.10-beta.1": {} };
    expect(staleness(zod, { versions })).toEqual({ note: "zod@4.6.7: 4.6.9 is out" });
    expect(staleness(zod, { versions: { "4.6.7": {}, "5.0.0": {} } })).toEqual({});
  });

  it("names a bundled version npm marks deprecated as a problem", () => {
    root = mkdtempSync(join(tmpdir(), "bundled-"));
    expect(staleness(zod, { versions: { "4.6.7": { deprecated: "security issue, use 4.6.8" } } })).toEqual({
      problem: "zod@4.6.7 is deprecated: security issue, use 4.6.8",
    });
  });
});
