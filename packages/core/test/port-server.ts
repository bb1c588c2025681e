/**
 * A server child process that serves Streamable HTTP on a free port of 127.0.0.1 and prints the port as the
 * first line of its stdout (the test fixtures `tally-v2-http-server.ts` and `approval-server.ts` do).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { childEnv, NODE_ARGS } from "@async-tools/test-helpers/children";
import { onCleanup } from "./stdio-rig.ts";

/** Starts `script` with `env`, killed after the test; resolves with it and its MCP endpoint once it listens. */
export async function startPortServer(
  script: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: URL }> {
  const child = spawn(process.execPath, [...NODE_ARGS, script], {
    env: childEnv(env),
    stdio: ["ignore", "pipe", "ignore"],
  });
  onCleanup(() => {
    child.kill("SIGKILL");
  });
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0] as string);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, url: new URL(`http://127.0.0.1:${port}/mcp`) };
}
