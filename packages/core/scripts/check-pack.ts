/**
 * Proves the published package works for consumers of either MCP SDK generation: packs @async-tools/core,
 * lints the tarball with publint and Are The Types Wrong, then installs it into two scratch projects outside
 * the workspace, one with only the v1 SDK (`@modelcontextprotocol/sdk`) and one with only the v2 SDK
 * (`@modelcontextprotocol/server` and `/client`), each at the lowest version of core's peer range. Each
 * project type-checks a consumer and runs one durable job through a real client of its generation: v1 over
 * an in-memory linked pair, v2 over stdio with a child process and 2026-07-28 negotiation.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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

const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const catalog = readFileSync(join(root, "..", "..", "pnpm-workspace.yaml"), "utf8");
/** The workspace's version of a dev tool (the pnpm catalog). */
const version = (name: string) => {
  const match = new RegExp(`"?${name.replace(/[/@]/g, "\\$&")}"?:\\s*([^\\s]+)`).exec(catalog);
  return match?.[1] ?? own.devDependencies[name] ?? "latest";
};
/** The lowest version core's peer range admits (`^1.32.0` → `1.32.0`), so old peers are what is checked. */
const lowestPeer = (name: string) => {
  const range = own.peerDependencies[name];
  const match = range === undefined ? null : /^[\^~]?(\d+\.\d+\.\d+)$/.exec(range.trim());
  if (match?.[1] === undefined) throw new Error(`pack-check: no simple peer range for ${name}: ${range}`);
  return match[1];
};

const DEFINITION = `import { defineAsyncTool } from "@async-tools/core";
import { z } from "zod";

export const double = defineAsyncTool({
  name: "double",
  description: "Doubles a number",
  input: z.object({ n: z.number() }),
  output: z.object({ doubled: z.number() }),
  run: async (ctx, { n }) => ({ doubled: await ctx.run("double", () => n * 2) }),
});
`;

/** What both consumers check once their client has awaited the job. */
const CHECK = `if (!done || done.status !== "completed" || done.result?.doubled !== 42) {
  throw new Error("unexpected result: " + JSON.stringify(done));
}
console.log("consumer ok:", JSON.stringify(done.result));
`;

const V1_CONSUMER = `import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { createAsyncTools } from "@async-tools/core";
import { registerTools, serverOptions } from "@async-tools/core/mcp-v1";
import { double } from "./definition.ts";

await using runtime = await createAsyncTools({ tools: [double], store: "memory" });
const server = new McpServer({ name: "consumer", version: "1.0.0" }, { ...serverOptions(runtime) });
registerTools(server, runtime);
const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
await server.connect(serverSide);
const client = new Client({ name: "consumer-client", version: "1.0.0" });
await client.connect(clientSide);
const started = (await client.callTool({ name: "start_double", arguments: { n: 21 } })).structuredContent as { job_id: string };
const awaited = (await client.callTool({ name: "await_double", arguments: { job_ids: [started.job_id] } }))
  .structuredContent as { jobs: { status: string; result?: { doubled: number } }[] };
const done = awaited.jobs[0];
await client.close();
${CHECK}`;

const V2_SERVER = `import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
import { McpServer } from "@modelcontextprotocol/server";
import { double } from "./definition.ts";

serveStdio(
  (runtime) => {
    const server = new McpServer({ name: "consumer", version: "1.0.0" });
    registerTools(server, runtime);
    return server;
  },
  { runtime: { tools: [double], store: "memory" } },
);
`;

const V2_CONSUMER = `import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const client = new Client({ name: "consumer-client", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
await client.connect(new StdioClientTransport({ command: process.execPath, args: ["server.ts"], stderr: "ignore" }));
if (client.getProtocolEra() !== "modern") throw new Error("expected the 2026-07-28 era, got " + client.getProtocolEra());
const started = (await client.callTool({ name: "start_double", arguments: { n: 21 } })).structuredContent as { job_id: string };
const awaited = (await client.callTool({ name: "await_double", arguments: { job_ids: [started.job_id] } }))
  .structuredContent as { jobs: { status: string; result?: { doubled: number } }[] };
const done = awaited.jobs[0];
await client.close();
${CHECK}`;

/** Writes a scratch project with `deps` and `files`, installs it, type-checks it and runs `consumer.ts`. */
function consumer(
  name: string,
  tarPath: string,
  deps: Record<string, string>,
  files: Record<string, string>,
) {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const dependencies = {
    "@async-tools/core": `file:${tarPath}`,
    "@resonatehq/sdk": version("@resonatehq/sdk"),
    zod: version("zod"),
    typescript: version("typescript"),
    "@types/node": version("@types/node"),
    ...deps,
  };
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name, private: true, type: "module", dependencies }, null, 2),
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        lib: ["ES2024", "ESNext.Disposable", "DOM"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ["node"],
        allowImportingTsExtensions: true,
      },
      include: ["*.ts"],
    }),
  );
  writeFileSync(join(dir, "definition.ts"), DEFINITION);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir);
  run(join(dir, "node_modules", ".bin", "tsc"), ["-p", "."], dir);
  run(process.execPath, ["consumer.ts"], dir);
  return dir;
}

try {
  run("pnpm", ["pack", "--pack-destination", scratch], root);
  const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("pnpm pack produced no tarball");
  const tarPath = join(scratch, tarball);
  run("pnpm", ["exec", "publint", "run", tarPath, "--strict"], root);
  run("pnpm", ["exec", "attw", tarPath, "--profile", "esm-only"], root);

  const v1 = consumer(
    "consumer-v1",
    tarPath,
    { "@modelcontextprotocol/sdk": lowestPeer("@modelcontextprotocol/sdk") },
    { "consumer.ts": V1_CONSUMER },
  );
  const v2Version = lowestPeer("@modelcontextprotocol/server");
  const v2 = consumer(
    "consumer-v2",
    tarPath,
    { "@modelcontextprotocol/server": v2Version, "@modelcontextprotocol/client": v2Version },
    { "consumer.ts": V2_CONSUMER, "server.ts": V2_SERVER },
  );
  // Each generation is an optional peer: neither project may have pulled in the other SDK.
  if (existsSync(join(v1, "node_modules", "@modelcontextprotocol", "server"))) {
    throw new Error("pack-check: the v1-only project has @modelcontextprotocol/server installed");
  }
  if (existsSync(join(v2, "node_modules", "@modelcontextprotocol", "sdk"))) {
    throw new Error("pack-check: the v2-only project has @modelcontextprotocol/sdk installed");
  }
  process.stderr.write(
    "pack-check: the packed @async-tools/core installs, type-checks and runs with v1 only and v2 only\n",
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
