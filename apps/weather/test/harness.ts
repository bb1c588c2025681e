/**
 * Runs the real weather server as a child process (stdio or HTTP) against a store in a temp dir, with a
 * real MCP client, so tests can SIGKILL it mid-job and start it again on the same store.
 */
import { join } from "node:path";
import { type McpChild, startHttpChild, startStdioChild } from "@async-tools/test-helpers/children";
import { tempDir } from "@async-tools/test-helpers/temp";
import { afterEach } from "vitest";
import {
  type FakeOpenMeteo,
  type FakeOpenMeteoOptions,
  startFakeOpenMeteo,
} from "./support/fake-open-meteo.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");

/** A weather server child process with a connected client. */
export type RunningServer = McpChild;

function serverEnv(store: string, archiveUrl: string): Record<string, string> {
  return { ASYNC_TOOLS_STORE: store, OPEN_METEO_ARCHIVE_URL: archiveUrl, WEATHER_RETRY_INITIAL_MS: "100" };
}

/** Starts the server over stdio with a real `StdioClientTransport`. */
export function startStdio(
  store: string,
  archiveUrl: string,
  flags: readonly string[] = [],
): Promise<RunningServer> {
  return startStdioChild(MAIN, {
    env: serverEnv(store, archiveUrl),
    args: flags,
    clientName: "weather-test",
  });
}

/**
 * Starts the server with `--http` on a free port and connects a Streamable HTTP client with `token`.
 * `tokenFlags` (e.g. `["alice=T1", "bob=T2"]`) replace `--token <token>` on the command line.
 */
export function startHttpServer(
  store: string,
  archiveUrl: string,
  token?: string,
  tokenFlags?: string[],
  extraArgs: string[] = [],
): Promise<RunningServer & { url: string }> {
  const args = [...extraArgs];
  for (const flag of tokenFlags ?? (token ? [token] : [])) args.push("--token", flag);
  return startHttpChild(MAIN, {
    env: serverEnv(store, archiveUrl),
    args,
    clientName: "weather-test",
    ...(token === undefined ? {} : { token }),
  });
}

/**
 * Per-test rigs of a fake Open-Meteo and a store file in a temp dir, with `start()` launching the server over
 * stdio on them (again after a kill). Everything is cleaned up after each test of the calling file.
 */
export function stdioRigs(): (fakeOptions?: FakeOpenMeteoOptions) => Promise<{
  fake: FakeOpenMeteo;
  store: string;
  start: (flags?: readonly string[]) => Promise<RunningServer>;
}> {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  return async (fakeOptions = {}) => {
    const dir = tempDir("weather");
    const fake = await startFakeOpenMeteo(fakeOptions);
    cleanup.push(
      () => dir[Symbol.dispose](),
      () => fake.close(),
    );
    const store = `sqlite:${join(dir.path, "jobs.db")}`;
    const start = async (flags: readonly string[] = []) => {
      const server = await startStdio(store, fake.url, flags);
      cleanup.push(() => server.close());
      return server;
    };
    return { fake, store, start };
  };
}
