import { describe, expect, it } from "vitest";
import { countingNetwork, squareTool } from "../../test/helpers.ts";
import { createAsyncTools } from "../index.ts";

describe("reading a job", () => {
  it("probes a job running here that asked nothing with one read of its promise, and no question index", async () => {
    const counter = { runs: 0 };
    let release = () => {};
    const square = squareTool(counter, new Promise<void>((resolve) => (release = resolve)));
    const { network, counts } = countingNetwork();
    await using tools = await createAsyncTools({ store: network, tools: [square] });
    const started = await tools.start(square, { n: 3 });
    while (counter.runs === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    counts.clear();
    const [probed] = await tools.probe([started.jobId]);
    expect(probed).toMatchObject({ status: "working", progress: { fraction: 0.5, message: "computing" } });
    expect(counts.get("promise.get")).toBe(1);
    release();
    expect(await tools.waitFor(square, started.jobId, 10_000)).toMatchObject({ result: { square: 9 } });
  });
});
