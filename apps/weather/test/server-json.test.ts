/**
 * `server.json`, what the MCP Registry lists: valid by the registry's format, and in step with the package
 * (its `mcpName`, name and version) and with the server (the environment variables and flags it names are the
 * ones `--help` documents).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "@async-tools/test-helpers/run-process";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const read = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8")) as unknown;

interface ServerJson {
  name: string;
  version: string;
  packages: {
    identifier: string;
    version: string;
    transport: { type: string };
    packageArguments?: { name: string }[];
    environmentVariables?: { name: string; description?: string }[];
  }[];
}

const server = read("server.json") as ServerJson;
const pkg = read("package.json") as { name: string; version: string; mcpName: string };

/** A validator for the registry's format, with the `uri` format checked as a URL parses it. */
function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat("uri", (value: string) => URL.canParse(value));
  return ajv.compile(read("test/support/registry-server.schema.json") as object);
}

describe("server.json", () => {
  it("follows the MCP Registry's server.json format", () => {
    const validate = validator();
    expect(validate(server), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("refuses what the registry refuses: a version range, a long description, an unknown key", () => {
    const validate = validator();
    expect(validate({ ...server, version: "^1.0.0" })).toBe(false);
    expect(validate({ ...server, version: "latest" })).toBe(false);
    expect(validate({ ...server, description: "x".repeat(101) })).toBe(false);
    expect(validate({ ...server, packages: [{ ...server.packages[0], enviromentVariables: [] }] })).toBe(
      false,
    );
  });

  it("names the package it lists: its mcpName, npm name and version", () => {
    expect(pkg.mcpName).toBe(server.name);
    expect(server.version).toBe(pkg.version);
    for (const entry of server.packages)
      expect(entry).toMatchObject({ identifier: pkg.name, version: pkg.version });
    expect(server.packages.map((entry) => entry.transport.type)).toEqual(["stdio", "streamable-http"]);
  });

  it("describes only variables and flags that --help documents", async () => {
    const { stdout } = await runProcess(process.execPath, [
      "--conditions=@async-tools/source",
      join(ROOT, "src", "main.ts"),
      "--help",
    ]);
    for (const entry of server.packages) {
      for (const variable of entry.environmentVariables ?? []) {
        expect(stdout).toContain(variable.name);
        expect(variable.description).toBeTruthy();
      }
      for (const argument of entry.packageArguments ?? []) expect(stdout).toContain(argument.name);
    }
  });
});
