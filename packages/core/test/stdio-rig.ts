/**
 * Real stdio servers for the generation tests: the example v2 server (examples/v2-server) and the same
 * definition on the v1 face, each in a child process, each driven by its own generation's Client.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, NODE_ARGS } from "@async-tools/test-helpers/children";
import { Client as ClientV2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioV2 } from "@modelcontextprotocol/client/stdio";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as StdioV1 } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach } from "vitest";

export const V2_SERVER = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "examples",
  "v2-server",
  "src",
  "main.ts",
);
export const V1_SERVER = join(import.meta.dirname, "fixtures", "tally-v1-server.ts");

/** The extension capability a Tasks client declares (2026-07-28). */
export const TASKS_EXTENSION_CAPABILITY = { extensions: { "io.modelcontextprotocol/tasks": {} } };

/** What a test needs of a connected client, whatever its generation. */
export interface Connection {
  call(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  listTools(): Promise<ListedTool[]>;
  /** The server process (the one that serves the connection, not the discovery probe). */
  pid: number;
  close(): Promise<void>;
}

export interface ToolResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export interface ListedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A temp dir removed after the test, with a store path and a step log in it. */
export function scratch(): { dir: string; store: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-gen-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: `sqlite:${join(dir, "jobs.db")}`, log: join(dir, "steps.log") };
}

/** Options of {@link connectV1}. */
export interface V1Options {
  /** Which face serves the definition: the v1 fixture (default) or the example v2 server. */
  server?: "v1" | "v2";
  /** Client capabilities. */
  capabilities?: Record<string, unknown>;
}

/** A v1 Client (2025-11-25) on the v1 face of the example's definition, or on the example v2 server. */
export async function connectV1(
  env: Record<string, string>,
  options: V1Options = {},
): Promise<Connection & { client: ClientV1 }> {
  const transport = new StdioV1({
    command: process.execPath,
    args: [...NODE_ARGS, options.server === "v2" ? V2_SERVER : V1_SERVER],
    env: childEnv(env),
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => undefined);
  const client = new ClientV1(
    { name: "v1-test", version: "0" },
    options.capabilities === undefined ? {} : { capabilities: options.capabilities },
  );
  await client.connect(transport);
  cleanup.push(() => client.close().catch(() => undefined));
  return {
    client,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
    listTools: async () => (await client.listTools()).tools as ListedTool[],
    pid: transport.pid as number,
    close: () => client.close(),
  };
}

/** Options of {@link connectV2}. */
export interface V2Options {
  /** The server: the example v2 server (default), the v1 fixture, or the path of another stdio server. */
  server?: "v1" | "v2" | (string & {});
  /** `auto` (default) probes with `server/discover`, `legacy` speaks 2025-11-25 only. */
  mode?: "auto" | "legacy" | "pin";
  /** Extra client capabilities, e.g. {@link TASKS_EXTENSION_CAPABILITY}. */
  capabilities?: Record<string, unknown>;
}

/** A v2 Client on the example v2 server, with its transport and client for tests that go lower. */
export async function connectV2(
  env: Record<string, string>,
  options: V2Options = {},
): Promise<Connection & { client: ClientV2; transport: StdioV2 }> {
  const server = options.server ?? "v2";
  const transport = new StdioV2({
    command: process.execPath,
    args: [...NODE_ARGS, server === "v2" ? V2_SERVER : server === "v1" ? V1_SERVER : server],
    env: childEnv(env),
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => undefined);
  const mode = options.mode ?? "auto";
  const client = new ClientV2({ name: "v2-test", version: "0" }, {
    ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
    ...(mode === "legacy"
      ? {}
      : { versionNegotiation: { mode: mode === "pin" ? { pin: "2026-07-28" } : "auto" } }),
  } as ConstructorParameters<typeof ClientV2>[1]);
  await client.connect(transport);
  cleanup.push(() => client.close().catch(() => undefined));
  return {
    client,
    transport,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
    listTools: async () => (await client.listTools()).tools as ListedTool[],
    pid: transport.pid as number,
    close: () => client.close(),
  };
}

/** Registers a cleanup step for the current test. */
export function onCleanup(step: () => Promise<void> | void): void {
  cleanup.push(step);
}
