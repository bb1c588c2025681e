/**
 * The step log's share of a step's two Resonate requests on a Postgres store (migration 0010): the create of a
 * step's promise starts the attempt in the same call, and the network hands its number to the step log here; the
 * end of a successful attempt waits here for the step's settle, which takes it to Postgres in the same call. A
 * step then costs two round trips and two commits rather than four.
 */
import type { Request } from "@resonatehq/sdk";
import { STEP_TAG } from "../store.ts";

/** How an attempt ended, as `async_tools.checkpoint` takes it beside a step's settle. */
export interface StepEnd {
  job: string;
  step: string;
  attempt: number;
  at: number;
  error?: string;
}

/** A held end, and how to write it alone when no settle takes it. */
export interface HeldEnd {
  end: StepEnd;
  alone(): void;
}

/** Attempts started by creates not yet asked for: past this many, the oldest are dropped (a step never run). */
const MAX_STARTED = 1_000;

/** The attempts started and the ends held, by step promise ID. */
export class StepCheckpoints {
  private readonly started = new Map<string, number>();
  private readonly held = new Map<string, HeldEnd & { timer: NodeJS.Timeout }>();
  private readonly holdMs: number;

  /** `holdMs`: how long an end waits for its step's settle before it is written alone. */
  constructor(holdMs: number) {
    this.holdMs = holdMs;
  }

  /** The create of `stepId` started `attempt` in the step log. */
  start(stepId: string, attempt: number): void {
    this.started.delete(stepId);
    this.started.set(stepId, attempt);
    if (this.started.size > MAX_STARTED) {
      const oldest = this.started.keys().next().value;
      if (oldest !== undefined) this.started.delete(oldest);
    }
  }

  /** The attempt the create of `stepId` started, once: a later attempt (a retry) is begun by the step log. */
  takeStarted(stepId: string): number | undefined {
    const attempt = this.started.get(stepId);
    this.started.delete(stepId);
    return attempt;
  }

  /** Holds `end` for its step's settle; after `holdMs` without one, `alone` writes it. */
  hold(end: StepEnd, alone: () => void): void {
    this.take(end.step)?.alone();
    const timer = setTimeout(() => this.take(end.step)?.alone(), this.holdMs);
    timer.unref();
    this.held.set(end.step, { end, alone, timer });
  }

  /** The end held for the step `stepId`, taken: its settle carries it, or it is written alone. */
  take(stepId: string): HeldEnd | undefined {
    const held = this.held.get(stepId);
    if (held === undefined) return undefined;
    this.held.delete(stepId);
    clearTimeout(held.timer);
    return { end: held.end, alone: held.alone };
  }

  /** Writes the held ends of `jobId` alone (before a read of its steps), or every one (at close). */
  release(jobId?: string): void {
    for (const [stepId, held] of [...this.held])
      if (jobId === undefined || held.end.job === jobId) this.take(stepId)?.alone();
  }
}

/**
 * What goes to `async_tools.rpc` beside `request`, as JSON: the time a step's create starts the attempt, or the
 * held end its settle takes; `null` for any other request. `creates` names the step a create is for.
 */
export interface StepRecord {
  step: string | null;
  creates?: string;
  held?: HeldEnd;
}

/** The step record of `request`; taking a held end is what keeps it from being written alone. */
export function stepRecordOf(
  request: Request,
  checkpoints: StepCheckpoints | undefined,
  now: number,
): StepRecord {
  if (checkpoints === undefined || request.kind !== "task.fence") return { step: null };
  const action = request.data.action;
  if (action.kind === "promise.create") {
    const tags = action.data.tags as Record<string, string> | undefined;
    if (tags?.[STEP_TAG] === undefined) return { step: null };
    return { step: JSON.stringify({ at: now }), creates: action.data.id };
  }
  const held = checkpoints.take(action.data.id);
  return held === undefined ? { step: null } : { step: JSON.stringify(held.end), held };
}
