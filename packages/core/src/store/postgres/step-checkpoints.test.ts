/**
 * What a step's requests carry for the step log: the attempt a create started, handed over once, and an end held
 * for its settle, written alone when no settle takes it.
 */
import type { Request } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { STEP_TAG } from "../store.ts";
import { StepCheckpoints, stepRecordOf } from "./step-checkpoints.ts";

const head = { corrId: "c", version: "2026-04-01" };

function fence(action: unknown): Request {
  return { kind: "task.fence", head, data: { id: "job", version: 1, action } } as Request;
}

const createStep = fence({
  kind: "promise.create",
  head,
  data: { id: "job:0", timeoutAt: 1, param: {}, tags: { [STEP_TAG]: "fetch" } },
});
const settleStep = fence({
  kind: "promise.settle",
  head,
  data: { id: "job:0", state: "resolved", value: {} },
});

describe("a step's checkpoints", () => {
  it("hands the attempt a create started to the step log once", () => {
    const checkpoints = new StepCheckpoints(60_000);
    checkpoints.start("job:0", 3);
    expect(checkpoints.takeStarted("job:0")).toBe(3);
    expect(checkpoints.takeStarted("job:0")).toBeUndefined();
  });

  it("gives a step's create the time it starts the attempt, and a promise without the step tag nothing", () => {
    const checkpoints = new StepCheckpoints(60_000);
    expect(stepRecordOf(createStep, checkpoints, 42)).toEqual({ step: '{"at":42}', creates: "job:0" });
    const sleep = fence({
      kind: "promise.create",
      head,
      data: { id: "job:1", timeoutAt: 1, param: {}, tags: {} },
    });
    expect(stepRecordOf(sleep, checkpoints, 42)).toEqual({ step: null });
    expect(stepRecordOf(createStep, undefined, 42)).toEqual({ step: null });
  });

  it("lets a step's settle take its held end, which is then never written alone", async () => {
    const checkpoints = new StepCheckpoints(1);
    let alone = 0;
    checkpoints.hold({ job: "job", step: "job:0", attempt: 1, at: 5 }, () => {
      alone += 1;
    });
    const record = stepRecordOf(settleStep, checkpoints, 9);
    expect(record.step).toBe('{"job":"job","step":"job:0","attempt":1,"at":5}');
    expect(stepRecordOf(settleStep, checkpoints, 9)).toEqual({ step: null });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alone).toBe(0);
  });

  it("writes an end alone when no settle took it in time", async () => {
    const checkpoints = new StepCheckpoints(1);
    const written = new Promise<void>((resolve) =>
      checkpoints.hold({ job: "job", step: "job:0", attempt: 1, at: 5 }, resolve),
    );
    await written;
    expect(stepRecordOf(settleStep, checkpoints, 9)).toEqual({ step: null });
  });

  it("writes the held ends of one job alone before its steps are read, and every one at close", () => {
    const checkpoints = new StepCheckpoints(60_000);
    const written: string[] = [];
    for (const [job, step] of [
      ["a", "a:0"],
      ["b", "b:0"],
      ["b", "b:1"],
    ] as const)
      checkpoints.hold({ job, step, attempt: 1, at: 1 }, () => written.push(step));
    checkpoints.release("b");
    expect(written).toEqual(["b:0", "b:1"]);
    checkpoints.release();
    expect(written).toEqual(["b:0", "b:1", "a:0"]);
  });

  it("sends a create answered here when the step's settle takes too long, and a settle takes it otherwise", async () => {
    const checkpoints = new StepCheckpoints(60_000, 1);
    const create = { body: "{}", step: '{"at":1}' };
    let sent = 0;
    checkpoints.holdCreate("job:0", "job", create, async () => {
      sent += 1;
    });
    expect(checkpoints.unsentOrSending("job:0")).toBe(true);
    await expect.poll(() => sent).toBe(1);
    await checkpoints.created("job:0");
    expect(checkpoints.unsentOrSending("job:0")).toBe(false);
    expect(checkpoints.takeCreate("job:0")).toBeUndefined();

    const waiting = new StepCheckpoints(60_000, 60_000);
    waiting.holdCreate("job:1", "job", create, async () => {
      sent += 1;
    });
    expect(waiting.takeCreate("job:1")).toBe(create);
    expect(waiting.unsentOrSending("job:1")).toBe(false);
    expect(sent).toBe(1);
  });

  it("sends a job's waiting creates before its held ends are written alone", async () => {
    const checkpoints = new StepCheckpoints(60_000, 60_000);
    const order: string[] = [];
    checkpoints.holdCreate("b:0", "b", { body: "{}", step: null }, async () => {
      order.push("create b:0");
    });
    checkpoints.hold({ job: "b", step: "b:0", attempt: 1, at: 1 }, () => order.push("end b:0"));
    checkpoints.release("b");
    await checkpoints.createsSent();
    expect(order).toEqual(["create b:0", "end b:0"]);
  });
});
