/**
 * The served store's HTTP face on a real SQLite file and a real port: requests it cannot serve are refused
 * with a 4xx that says why, never a 500.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JobMeta } from "../job-meta.ts";
import { SqliteNetwork } from "../sqlite-network.ts";
import { type StoreServer, serveStore } from "./http-server.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(): Promise<StoreServer> {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-served-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const network = await SqliteNetwork.open({ path: join(dir, "store.db"), tickMs: 0 });
  cleanups.push(() => network.stop());
  const server = await serveStore({
    network,
    jobs: new JobMeta(network.db),
    token: "t",
    graceMs: 60_000,
    replayMs: 0,
    maxBodyBytes: 1 << 20,
  });
  cleanups.push(() => server.close());
  return server;
}

describe("the served store", () => {
  it("refuses a request of an unknown kind with 400 naming the kind", async () => {
    const server = await serve();
    const response = await fetch(server.url, {
      method: "POST",
      headers: { Authorization: "Bearer t" },
      body: JSON.stringify({
        kind: "promise.explode",
        head: { corrId: "c1", version: "" },
        data: { id: "x" },
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string };
    expect(body.error).toContain('"promise.explode"');
    expect(body.error).toContain("promise.get");
  });
});
