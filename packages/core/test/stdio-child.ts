/**
 * A stdio MCP server in a child process with its own MCP client, for tests that SIGKILL servers: its stderr
 * is kept so a test can read what the server logged.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** A running child server. */
export interface StdioChild {
  pid: number;
  client: Client;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Structured content of a tool call. */
  data<T>(name: string, args: Record<string, unknown>): Promise<T>;
  kill(): void;
  close(): Promise<void>;
}

/** Starts `node --conditions=@async-tools/source <script> ...args` with `env` and connects a client. */
export async function startStdioChild(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<StdioChild> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "RESONATE_URL" && k !== "ASYNC_TOOLS_STORE") base[k] = v;
  }
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--conditions=@async-tools/source", script, ...args],
    env: { ...base, ASYNC_TOOLS_LOG: "info", ...env },
    stderr: "pipe",
  });
  let log = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const client = new Client({ name: "multi-process-test", version: "0" });
  await client.connect(transport);
  const pid = transport.pid as number;
  let killed = false;
  const call = async (name: string, callArgs: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: callArgs })) as CallToolResult;
  return {
    pid,
    client,
    stderr: () => log,
    call,
    data: async <T>(name: string, callArgs: Record<string, unknown>) =>
      (await call(name, callArgs)).structuredContent as T,
    kill() {
      if (killed || pid <= 0) return;
      killed = true;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
    close: () => client.close().catch(() => undefined),
  };
}
