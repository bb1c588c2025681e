import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { resonateRequest } from "../protocol.ts";
import { SqliteNetwork } from "../sqlite/sqlite-network.ts";
import { LoopbackNetwork, OwnerUnreachable } from "./loopback-network.ts";
import { JoinedMessageSource } from "./message-source.ts";
import { SwitchingNetwork } from "./shared-store.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An owner that takes requests and never answers them: a process that hung before it died. */
async function silentOwner(): Promise<string> {
  const held: import("node:http").ServerResponse[] = [];
  const server: Server = createServer((_req, res) => held.push(res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A joiner's network whose message stream is already gone, so a request does not wait for a stopped owner. */
async function joinedNetwork(url: string, timeoutMs: number): Promise<LoopbackNetwork> {
  const source = new JoinedMessageSource({ url, token: "t", group: "g", pid: "p", onDrop: () => undefined });
  await source.stop();
  return new LoopbackNetwork({ url, token: "t", timeoutMs, source });
}

describe("SwitchingNetwork", () => {
  it("asks the next owner a request the previous one never answered, once the store changed hands", async () => {
    const next = await SqliteNetwork.open({ path: ":memory:", tickMs: 0 });
    cleanups.push(() => next.stop());
    const switching = new SwitchingNetwork("poll://uni@g/p", "poll://any@g/p");
    switching.use(await joinedNetwork(await silentOwner(), 300));
    const request = resonateRequest("promise.get", { id: "never-created" });
    const answered = switching.send(request);
    // The owner's stream drops while the request waits: the joiner holds requests and takes the store over.
    switching.hold();
    setTimeout(() => switching.use(next), 400);
    const res = await answered;
    expect(res.head.status).toBe(404);
  });

  it("reports a request the owner never answered as OwnerUnreachable, a platform failure to the SDK", async () => {
    const network = await joinedNetwork(await silentOwner(), 200);
    const failure = await network.send(resonateRequest("promise.get", { id: "x" })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OwnerUnreachable);
    expect((failure as Error).name).toBe("ResonateTimeoutException");
  });
});
