/**
 * The served store's HTTP face on a real SQLite file and a real port: its connection cap, a refusal from the
 * headers alone (no token, a body over the limit) that reads no body, and requests it cannot serve refused with
 * a 4xx that says why, never a 500.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PromiseClient } from "../../runtime/promise-client.ts";
import { CHANGES_EVENT } from "../protocol.ts";
import { JobMeta } from "../sqlite/job-meta.ts";
import { SqliteNetwork } from "../sqlite/sqlite-network.ts";
import { PRINCIPAL_TAG } from "../store.ts";
import { type StoreServer, serveStore } from "./http-server.ts";

const MiB = 2 ** 20;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function served(
  options: { maxConnections?: number } = {},
): Promise<StoreServer & { network: SqliteNetwork }> {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-served-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const network = await SqliteNetwork.open({ path: join(dir, "store.db"), tickMs: 0, spinGuard: false });
  cleanup.push(() => network.stop());
  const server = await serveStore({
    network,
    jobs: new JobMeta(network.db),
    token: "the-token",
    graceMs: 60_000,
    replayMs: 0,
    maxBodyBytes: 4 * MiB,
    ...options,
  });
  cleanup.push(() => server.close());
  return Object.assign(server, { network });
}

/** The data of every `changes` event on the message stream `/poll/{group}/{pid}{query}`, as it comes. */
async function changesHeard(url: string, pid: string, query: string): Promise<unknown[]> {
  const stop = new AbortController();
  cleanup.push(() => stop.abort());
  const response = await fetch(`${url}/poll/default/${pid}${query}`, {
    headers: { Authorization: "Bearer the-token" },
    signal: stop.signal,
  });
  const heard: unknown[] = [];
  void (async () => {
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString();
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        if (block.includes(`event: ${CHANGES_EVENT}`))
          heard.push(JSON.parse((block.find((line) => line.startsWith("data: ")) as string).slice(6)));
      }
    }
  })().catch(() => undefined);
  return heard;
}

/**
 * POSTs a body of `total` bytes over a raw socket in 64 KiB chunks, as fast as the server takes them, and
 * goes on sending after an answer comes: resolves with the answer's status line (if one came) and how many
 * bytes the server took before it closed the connection, or all of them if it read the body to its end.
 */
function upload(url: string, total: number, headers: Record<string, string>) {
  const { hostname, port } = new URL(url);
  return new Promise<{ status?: number; sent: number }>((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    let answer = "";
    let over = false;
    const done = () => {
      if (over) return;
      over = true;
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve({ ...(status === undefined ? {} : { status: Number(status) }), sent });
    };
    socket.on("data", (data: Buffer) => {
      answer += data.toString("latin1");
    });
    socket.on("close", done);
    socket.on("error", () => undefined);
    const head = Object.entries({ host: `${hostname}:${port}`, "content-length": String(total), ...headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST / HTTP/1.1\r\n${head}content-type: application/json\r\n\r\n`);
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once("drain", pump);
      }
      // All flushed: the server read the body to its end (or the kernel holds the last few chunks).
      if (!socket.destroyed) socket.once("drain", done).write("", () => setTimeout(done, 200));
    };
    socket.once("connect", pump);
  });
}

describe("the store owner's port", () => {
  it("answers 401 to a request without the token before reading its body, and reads no more of it", async () => {
    const server = await served();
    const { status, sent } = await upload(server.url, 64 * MiB, {});
    expect(status).toBe(401);
    // Socket buffers take a few MiB at most; reading the body to its end would take all 64.
    expect(sent / MiB).toBeLessThan(16);
  });

  it("answers 413 at once to a body declared over the limit, even with the token", async () => {
    const server = await served();
    const { status, sent } = await upload(server.url, 64 * MiB, { authorization: "Bearer the-token" });
    expect(status).toBe(413);
    expect(sent / MiB).toBeLessThan(16);
  });

  it("caps its connections: one more than the cap is closed, the ones inside it are served", async () => {
    const server = await served({ maxConnections: 4 });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    cleanup.push(() => agent.destroy());
    const held: (() => void)[] = [];
    // Four open message streams hold four connections.
    await Promise.all(
      ["a", "b", "c", "d"].map(
        (pid) =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${server.url}/poll/g/${pid}`, {
              agent,
              headers: { authorization: "Bearer the-token" },
            });
            req.on("response", (res) => {
              expect(res.statusCode).toBe(200);
              held.push(() => req.destroy());
              resolve();
            });
            req.on("error", reject);
            req.end();
          }),
      ),
    );
    const fifth = await new Promise<string>((resolve) => {
      const req = request(`${server.url}/poll/g/e`, {
        agent: false,
        headers: { authorization: "Bearer the-token" },
      });
      req.on("response", (res) => resolve(`answered ${res.statusCode}`));
      req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
      req.end();
    });
    expect(fifth).toMatch(/ECONNRESET|EPIPE|socket hang up|answered 503/);
    for (const release of held) release();
  });
});

describe("the change feed on a joiner's message stream", () => {
  it("tells what changed and whose job to a joiner that asks for it, and the jobs' IDs alone to an older one", async () => {
    const server = await served();
    const detailed = await changesHeard(server.url, "new", "?changes=1&what=1");
    const older = await changesHeard(server.url, "old", "?changes=1");
    const promises = new PromiseClient(server.network);
    await promises.create("job-1", Date.now() + 60_000, {}, { [PRINCIPAL_TAG]: "alice" });
    await promises.resolve("job-1", 1);
    await expect.poll(() => [detailed.length, older.length], { timeout: 30_000 }).toEqual([2, 2]);
    expect(detailed).toEqual([
      [{ id: "job-1", what: "created", principal: "alice" }],
      [{ id: "job-1", what: "settled", principal: "alice" }],
    ]);
    expect(older).toEqual([["job-1"], ["job-1"]]);
  });
});

describe("the served store's requests", () => {
  it("refuses a request of an unknown kind with 400 naming the kind", async () => {
    const server = await served();
    const response = await fetch(server.url, {
      method: "POST",
      headers: { Authorization: "Bearer the-token" },
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
