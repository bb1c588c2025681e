/**
 * Which step creates a replica answers itself: only on its task's first run here, once per step, while an answer
 * of Postgres recently showed the task held here; and the answer is the one Postgres would give.
 */
import type { Request } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { STEP_TAG } from "../store.ts";
import { createdAnswer, FirstRuns, promiseIdsOf, stepCreateOf } from "./first-runs.ts";

const head = { corrId: "c", version: "2026-04-01" };
const TRUST_MS = 1_000;

function createStep(
  id: string,
  version = 1,
  tags: Record<string, string> = { [STEP_TAG]: "fetch" },
): Request {
  return {
    kind: "task.fence",
    head,
    data: {
      id: "job",
      version,
      action: {
        kind: "promise.create",
        head,
        data: { id, timeoutAt: 10_000_000, param: { headers: {}, data: "e30=" }, tags },
      },
    },
  } as Request;
}

/** The answer to a task.create or task.acquire that gave this replica the task at `version`. */
function acquired(version: number) {
  return {
    kind: "task.create",
    head: { status: 200 },
    data: { task: { id: "job", version, state: "acquired" } },
  };
}

const taskCreate = { kind: "task.create", head, data: {} } as unknown as Request;

/** `runs.mayAnswer` for the step create `request`. */
function answers(runs: FirstRuns, request: Request, now: number): boolean {
  const create = stepCreateOf(request);
  if (create === undefined) throw new Error("not a step's create");
  return runs.mayAnswer(create, now);
}

describe("first runs", () => {
  it("answers a step's create of a task created here at version 1, once per step", () => {
    const runs = new FirstRuns(TRUST_MS);
    runs.observe(taskCreate, acquired(1), 100);
    expect(answers(runs, createStep("job.1"), 200)).toBe(true);
    // The same step asked for again (a replay in a later pass) goes to Postgres.
    expect(answers(runs, createStep("job.1"), 210)).toBe(false);
    expect(answers(runs, createStep("job.2"), 220)).toBe(true);
  });

  it("sends every create of a task acquired after another holder (a takeover, a resume) to Postgres", () => {
    const runs = new FirstRuns(TRUST_MS);
    runs.observe(taskCreate, acquired(2), 100);
    expect(answers(runs, createStep("job.1", 2), 200)).toBe(false);
    const unknown = new FirstRuns(TRUST_MS);
    expect(answers(unknown, createStep("job.1"), 200)).toBe(false);
  });

  it("trusts the hold only for a while after an answer showed it, and a fenced answer renews it", () => {
    const runs = new FirstRuns(TRUST_MS);
    runs.observe(taskCreate, acquired(1), 100);
    expect(answers(runs, createStep("job.1"), 100 + TRUST_MS)).toBe(false);
    runs.observe(createStep("job.1"), { head: { status: 200 } }, 2_000);
    expect(answers(runs, createStep("job.2"), 2_500)).toBe(true);
    // A fence refused (the task was lost) ends the first run here.
    runs.observe(createStep("job.2"), { head: { status: 409 } }, 2_600);
    expect(answers(runs, createStep("job.3"), 2_700)).toBe(false);
  });

  it("stops answering once the task is fulfilled, released or suspended here", () => {
    const runs = new FirstRuns(TRUST_MS);
    runs.observe(taskCreate, acquired(1), 100);
    runs.ending({ kind: "task.suspend", head, data: { id: "job", version: 1, actions: [] } } as Request);
    expect(answers(runs, createStep("job.1"), 200)).toBe(false);
  });

  it("answers a create the way Postgres does for a new promise, and names the promises a request reaches", () => {
    const create = stepCreateOf(createStep("job.1"));
    expect(stepCreateOf(createStep("job.1", 1, {}))).toBeUndefined();
    if (create === undefined) throw new Error("not a step's create");
    expect(createdAnswer(create, 42)).toEqual({
      kind: "task.fence",
      head: { corrId: "c", status: 200, version: "2026-04-01" },
      data: {
        action: {
          kind: "promise.create",
          head: { corrId: "c", status: 200, version: "2026-04-01" },
          data: {
            promise: {
              id: "job.1",
              state: "pending",
              param: { headers: {}, data: "e30=" },
              value: { headers: {}, data: null },
              tags: { [STEP_TAG]: "fetch" },
              timeoutAt: 10_000_000,
              createdAt: 42,
              settledAt: null,
            },
          },
        },
        preload: [],
      },
    });
    expect(promiseIdsOf(createStep("job.1"))).toEqual(["job", "job.1"]);
    expect(
      promiseIdsOf({
        kind: "promise.register_listener",
        head,
        data: { awaited: "job.1", address: "a" },
      } as Request),
    ).toEqual(["job.1"]);
  });
});
