/**
 * Type-checks every ```ts block of README.md, packages/core/README.md and docs/*.md against the workspace's
 * packages (their sources, through the `@async-tools/source` condition), so the docs cannot promise an API the
 * code does not have. Each block is a module of its own; the names a fragment may use without defining them
 * are declared once in `doc-globals.d.ts`. A block that is deliberately not code to compile is fenced
 * ```ts nocheck. Run by `pnpm typecheck`; prints each error at its line in the Markdown file.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const core = join(import.meta.dirname, "..");
const root = join(core, "..", "..");
const out = join(core, ".doc-check");

/** One block: where it is, and its code. */
interface Block {
  file: string;
  line: number;
  code: string;
}

function blocksOf(file: string): Block[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const blocks: Block[] = [];
  let open: Block | undefined;
  lines.forEach((text, index) => {
    if (open === undefined) {
      if (/^```(ts|typescript)\s*$/.test(text)) open = { file, line: index + 2, code: "" };
      return;
    }
    if (text.startsWith("```")) {
      blocks.push(open);
      open = undefined;
      return;
    }
    open.code += `${text}\n`;
  });
  return blocks;
}

const files = [
  join(root, "README.md"),
  join(core, "README.md"),
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(root, "docs", name)),
];
const blocks = files.flatMap(blocksOf);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
copyFileSync(join(import.meta.dirname, "doc-globals.d.ts"), join(out, "doc-globals.d.ts"));
// Every block is a module (`export {}`), so top-level await works and blocks never see each other's names.
const HEADER = "export {};\n";
const names = blocks.map((block, index) => {
  const name = `block-${index}.ts`;
  writeFileSync(join(out, name), HEADER + block.code);
  return name;
});
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../tsconfig.json",
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: ["*.ts"],
  }),
);

let output = "";
try {
  execFileSync(
    join(core, "node_modules", ".bin", "tsc"),
    ["-p", join(out, "tsconfig.json"), "--pretty", "false"],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
} catch (error) {
  output = String((error as { stdout?: string }).stdout ?? error);
}

// `.doc-check/block-3.ts(12,5): error TS2304: …` → `docs/api.md:40:5 error TS2304: …`
const headerLines = HEADER.split("\n").length - 1;
const errors = output
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => {
    const match = /block-(\d+)\.ts\((\d+),(\d+)\): (.*)$/.exec(line);
    const block = match === null ? undefined : blocks[Number(match[1])];
    if (match === null || block === undefined) return line;
    const at = block.line + Number(match[2]) - 1 - headerLines;
    return `${relative(root, block.file)}:${at}:${match[3]} ${match[4]}`;
  });
if (errors.length > 0) {
  process.stderr.write(`${errors.join("\n")}\n\n${errors.length} type errors in the docs' code blocks.\n`);
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
process.stdout.write(`${names.length} code blocks of ${files.length} Markdown files type-check.\n`);
