import { Resonate } from "@resonatehq/sdk/async";
import { describe, expect, it } from "vitest";
import { countingNetwork, squareTool } from "../../test/helpers.ts";
import { createAsyncTools, jobIdOf } from "../index.ts";
import { TOOL_TAG } from "./job.ts";

describe("starting a job", () => {
  it("creates a new job with one request to the store, reading nothing first", async () => {
    const counter = { runs: 0 };
    const square = squareTool(counter);
    const { network, counts } = countingNetwork();
    await using tools = await createAsyncTools({ store: network, tools: [square] });
    counts.clear();
    const started = await tools.start(square, { n: 4 });
    expect(started.created).toBe(true);
    expect(counts.get("task.create")).toBe(1);
    expect(counts.get("promise.get") ?? 0).toBe(0);
    expect(await tools.waitFor(square, started.jobId, 10_000)).toMatchObject({ result: { square: 16 } });
  });

  it("joins the job the same input started, here or concurrently, with one creation among them", async () => {
    const counter = { runs: 0 };
    let release = () => {};
    const square = squareTool(counter, new Promise<void>((resolve) => (release = resolve)));
    await using tools = await createAsyncTools({ store: "memory", tools: [square] });
    const all = await Promise.all(Array.from({ length: 50 }, () => tools.start(square, { n: 5 })));
    expect(new Set(all.map((s) => s.jobId)).size).toBe(1);
    expect(all.filter((s) => s.created)).toHaveLength(1);
    const again = await tools.start(square, { n: 5 });
    expect(again).toMatchObject({ jobId: all[0]?.jobId, created: false, status: "working" });
    release();
    expect(await tools.waitFor(square, again.jobId, 10_000)).toMatchObject({ result: { square: 25 } });
    expect((await tools.start(square, { n: 5 })).created).toBe(false);
    expect(counter.runs).toBe(1);
  });

  it("follows a cancelled job with a new run, and a `fresh` start with a run after every other", async () => {
    const counter = { runs: 0 };
    let release = () => {};
    const square = squareTool(counter, new Promise<void>((resolve) => (release = resolve)));
    await using tools = await createAsyncTools({ store: "memory", tools: [square] });
    const first = await tools.start(square, { n: 6 });
    await tools.cancel(first.jobId, "changed my mind");
    const second = await tools.start(square, { n: 6 });
    expect(second.created).toBe(true);
    expect(second.jobId).not.toBe(first.jobId);
    release();
    await tools.waitFor(square, second.jobId, 10_000);
    const third = await tools.start(square, { n: 6 }, { fresh: true });
    expect(third.created).toBe(true);
    expect(new Set([first.jobId, second.jobId, third.jobId]).size).toBe(3);
    const fourth = await tools.start(square, { n: 6 }, { fresh: true });
    expect(fourth.created).toBe(true);
    expect(new Set([first.jobId, second.jobId, third.jobId, fourth.jobId]).size).toBe(4);
    expect((await tools.start(square, { n: 6 })).jobId).toBe(second.jobId);
  });

  it("joins a job whose task waits for a process that is gone, and runs it here without a new job", async () => {
    const counter = { runs: 0 };
    const square = squareTool(counter);
    const { network, inner } = countingNetwork();
    // Another process created the job addressed to a group nobody listens to: its task waits, pending.
    const other = new Resonate({ network: inner, group: "gone" });
    const id = jobIdOf(square, { n: 7 });
    await other.rpc(
      id,
      "square",
      { n: 7, label: "x" },
      other.options({ target: "poll://any@nobody", tags: { [TOOL_TAG]: "square" }, version: 1 }),
    );
    await using tools = await createAsyncTools({ store: network, tools: [square] });
    const joined = await tools.start(square, { n: 7 });
    expect(joined).toMatchObject({ jobId: id, created: false });
    expect(await tools.waitFor(square, id, 10_000)).toMatchObject({
      status: "completed",
      result: { square: 49 },
    });
    expect(counter.runs).toBe(1);
    await other.stop();
  });
});
