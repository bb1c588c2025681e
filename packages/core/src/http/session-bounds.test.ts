import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { squareTool } from "../../test/helpers.ts";
import { INITIALIZE, MCP_HEADERS } from "../../test/http-rig.ts";
import { createAsyncTools } from "../index.ts";
import { createHttpHandler } from "./index.ts";

const MiB = 2 ** 20;

/** A full garbage collection, so heap figures show what is held, not what is yet to be collected. */
function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("stateful sessions under abuse", () => {
  it("stays bounded when 3,000 sessions are opened and abandoned", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    const cap = 100;
    // In-process (no sockets), so the test measures sessions, not connections.
    const http = createHttpHandler(runtime, { stateful: { maxSessions: cap } });
    const open = async () => {
      const res = await http.fetch(
        new Request("http://127.0.0.1:3000/mcp", {
          method: "POST",
          headers: MCP_HEADERS,
          body: JSON.stringify(INITIALIZE),
        }),
      );
      expect(res.status).toBe(200);
      await res.text();
      expect(http.sessionCount).toBeLessThanOrEqual(cap);
    };
    try {
      for (let i = 0; i < 1000; i++) await open();
      collect();
      const warm = process.memoryUsage();
      for (let i = 0; i < 2000; i++) await open();
      collect();
      const after = process.memoryUsage();
      expect(http.sessionCount).toBe(cap);
      // Unbounded, each session holds about 160 KiB: 2,000 more would add over 300 MiB of heap.
      expect((after.heapUsed - warm.heapUsed) / MiB).toBeLessThan(20);
      // RSS also counts heap V8 reserved and has not returned yet, so its bound is loose; without the cap it
      // grows by about 500 MiB.
      expect((after.rss - warm.rss) / MiB).toBeLessThan(250);
    } finally {
      await http.close();
    }
    expect(http.sessionCount).toBe(0);
  }, 90_000);
});
