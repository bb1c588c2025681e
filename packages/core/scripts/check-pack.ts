/**
 * Proves the published package works for a consumer: packs @async-tools/core, lints the tarball with publint
 * and Are The Types Wrong, installs it into a scratch project outside the workspace, type-checks a consumer
 * file against it, and runs that file (one durable job on the memory store).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const scratch = mkdtempSync(join(tmpdir(), "async-tools-pack-"));
const run = (cmd: string, args: string[], cwd: string) => {
  process.stderr.write(`pack-check: ${cmd} ${args.join(" ")}\n`);
  execFileSync(cmd, args, {
    cwd,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, CI: "true" },
  });
};

try {
  run("pnpm", ["pack", "--pack-destination", scratch], root);
  const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("pnpm pack produced no tarball");
  const tarPath = join(scratch, tarball);
  run("pnpm", ["exec", "publint", "run", tarPath, "--strict"], root);
  run("pnpm", ["exec", "attw", tarPath, "--profile", "esm-only"], root);

  const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  const catalog = readFileSync(join(root, "..", "..", "pnpm-workspace.yaml"), "utf8");
  const version = (name: string) => {
    const match = new RegExp(`"?${name.replace(/[/@]/g, "\\$&")}"?:\\s*([^\\s]+)`).exec(catalog);
    return match?.[1] ?? own.devDependencies[name] ?? "latest";
  };
  const consumer = join(scratch, "consumer");
  execFileSync("mkdir", ["-p", consumer]);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify(
      {
        name: "consumer",
        private: true,
        type: "module",
        dependencies: {
          "@async-tools/core": `file:${tarPath}`,
          "@modelcontextprotocol/sdk": version("@modelcontextprotocol/sdk"),
          "@resonatehq/sdk": version("@resonatehq/sdk"),
          zod: version("zod"),
          typescript: version("typescript"),
          "@types/node": version("@types/node"),
        },
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        types: ["node"],
        allowImportingTsExtensions: true,
      },
      include: ["consumer.ts"],
    }),
  );
  writeFileSync(
    join(consumer, "consumer.ts"),
    `import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { createAsyncTools, defineAsyncTool, type JobSnapshot } from "@async-tools/core";
import { registerTools, serverOptions } from "@async-tools/core/mcp-v1";
import { connectInMemory } from "@async-tools/core/testing";
import { z } from "zod";

const double = defineAsyncTool({
  name: "double",
  description: "Doubles a number",
  input: z.object({ n: z.number() }),
  output: z.object({ doubled: z.number() }),
  run: async (ctx, { n }) => ({ doubled: await ctx.run("double", () => n * 2) }),
});

const tools = await createAsyncTools({ store: "memory", tools: [double] });
const server = new McpServer({ name: "consumer", version: "1.0.0" }, serverOptions(tools));
registerTools(server, tools);
const started = await tools.start(double, { n: 21 });
const [done]: JobSnapshot[] = await tools.wait([started.jobId], { timeoutMs: 10_000 });
await tools.close();
if (done?.status !== "completed" || (done.result as { doubled: number }).doubled !== 42) {
  throw new Error("unexpected result: " + JSON.stringify(done));
}
// The testing harness: a real client, in memory, through the MCP tools.
await using c = await connectInMemory([double]);
const viaMcp = await c.call("start_double", { n: 1 });
if (viaMcp.isError) throw new Error("start_double failed: " + JSON.stringify(viaMcp.content));
console.log("consumer ok:", JSON.stringify(done.result));
`,
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], consumer);
  run(join(consumer, "node_modules", ".bin", "tsc"), ["-p", "."], consumer);
  run(process.execPath, ["consumer.ts"], consumer);
  process.stderr.write("pack-check: the packed @async-tools/core installs, type-checks and runs\n");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
