/**
 * The shape of the source, guarded: every import of `src/**\/*.ts` (tests aside) must run down the floors
 * of docs/architecture.md, whose table this test reads, and no file may reach itself through its imports.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));
const DOC = resolve(SRC, "../../../docs/architecture.md");

/**
 * Imports the table does not allow yet, each with the issue that removes it. Each must still be there: once
 * one is gone, take it off this list so it cannot come back. Empty: keep it so.
 */
const PENDING = new Set<string>([]);
const PENDING_CIRCLES = new Set<string>([]);

interface Floor {
  name: string;
  files: string[];
  mayImport: Set<string>;
  mcpSdk: boolean;
}

/** The floors table between the `import-rules` markers of the architecture doc. */
function floors(): Floor[] {
  const doc = readFileSync(DOC, "utf8");
  const table = doc.slice(
    doc.indexOf("<!-- import-rules:start -->"),
    doc.indexOf("<!-- import-rules:end -->"),
  );
  const rows = table
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .slice(2)
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  return rows.map(([name = "", files = "", may = "", sdk = ""]) => ({
    name,
    files: [...files.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string),
    mayImport: new Set([name, ...may.split(",").map((f) => f.trim())].filter(Boolean)),
    mcpSdk: sdk === "yes",
  }));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The specifiers a file imports or re-exports, static and (unless `dynamic` is false) dynamic. */
function specifiers(text: string, dynamic = true): string[] {
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gms),
    ...text.matchAll(/^\s*import\s+"([^"]+)"/gm),
    ...(dynamic ? text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g) : []),
  ];
  return found.map((m) => m[1] as string);
}

function floorOf(file: string, all: Floor[]): Floor | undefined {
  return all.find((f) => f.files.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
}

/** Each file's imports: `local` (files of src, static or dynamic), `eager` (static only) and `packages`. */
const graph = new Map<string, { local: string[]; eager: string[]; packages: string[] }>();
for (const path of sources(SRC)) {
  const file = relative(SRC, path);
  const text = readFileSync(path, "utf8");
  const inSrc = (list: string[]) =>
    list.filter((s) => s.startsWith(".")).map((s) => relative(SRC, resolve(dirname(path), s)));
  const all = specifiers(text);
  graph.set(file, {
    local: inSrc(all),
    eager: inSrc(specifiers(text, false)),
    packages: all.filter((s) => !s.startsWith(".")),
  });
}

/**
 * The groups of files that reach each other through static imports (Tarjan's strongly connected components),
 * each named by its files in order.
 */
function circles(): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file) as number);
    stack.push(file);
    for (const next of graph.get(file)?.eager ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (stack.includes(next)) {
        low.set(file, Math.min(low.get(file) as number, index.get(next) as number));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const group: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      group.push(member);
      if (member === file) break;
    }
    const selfImport = graph.get(file)?.eager.includes(file) === true;
    if (group.length > 1 || selfImport) found.push(group.sort().join(", "));
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found.sort();
}

describe("the import rules of docs/architecture.md", () => {
  const all = floors();

  it("reads a floor for every source file", () => {
    expect(all.length).toBeGreaterThan(5);
    const homeless = [...graph.keys()].filter((file) => floorOf(file, all) === undefined);
    expect(homeless).toEqual([]);
  });

  it("finds no import that runs up the floors or sideways into another face", () => {
    const broken: string[] = [];
    for (const [file, { local }] of graph) {
      const from = floorOf(file, all);
      if (from === undefined) continue;
      for (const target of local) {
        const to = floorOf(target, all);
        if (to !== undefined && !from.mayImport.has(to.name)) broken.push(`${file} -> ${target}`);
      }
    }
    expect(broken.filter((edge) => !PENDING.has(edge))).toEqual([]);
    // An exception that is gone must leave the list, so it cannot come back.
    expect([...PENDING].filter((edge) => !broken.includes(edge))).toEqual([]);
  });

  it("finds no MCP SDK below the floors that may know MCP", () => {
    const knowing = [...graph]
      .filter(([file]) => floorOf(file, all)?.mcpSdk === false)
      .flatMap(([file, { packages }]) =>
        packages.filter((p) => p.startsWith("@modelcontextprotocol/")).map((p) => `${file} -> ${p}`),
      );
    expect(knowing).toEqual([]);
  });

  // A lazy `import()` back is no circle: nothing runs before the module that asks for it has loaded.
  it("finds no file that reaches itself through its static imports", () => {
    expect(circles().filter((c) => !PENDING_CIRCLES.has(c))).toEqual([]);
    expect([...PENDING_CIRCLES].filter((c) => !circles().includes(c))).toEqual([]);
  });
});
