/**
 * The step log's share of a step's two Resonate requests on a Postgres store (migration 0010): the create of a
 * step's promise starts the attempt in the same call, and the network hands its number to the step log here; the
 * end of a successful attempt waits here for the step's settle, which takes it to Postgres in the same call. A
 * step then costs two round trips and two commits rather than four; on a job's first run a create answered in the
 * replica waits here too, for the settle it goes with (one round trip), and the step log writes the step's row
 * only after it.
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

/** A request as it goes to `async_tools.rpc`: its JSON and its step record's. */
export interface SentRequest {
  body: string;
  step: string | null;
}

/** A step's create answered before Postgres has it, and how to send it alone. */
interface UnsentCreate {
  job: string;
  create: SentRequest;
  send(): Promise<void>;
  timer: NodeJS.Timeout;
}

/** The attempts started, the ends held and the creates not sent yet, by step promise ID. */
export class StepCheckpoints {
  private readonly started = new Map<string, number>();
  private readonly held = new Map<string, HeldEnd & { timer: NodeJS.Timeout }>();
  private readonly unsent = new Map<string, UnsentCreate>();
  private readonly sending = new Map<string, Promise<void>>();
  private readonly holdMs: number;
  private readonly createHoldMs: number;

  /**
   * `holdMs`: how long an end waits for its step's settle before it is written alone; `createHoldMs`: how long a
   * create answered here waits for it.
   */
  constructor(holdMs: number, createHoldMs = holdMs) {
    this.holdMs = holdMs;
    this.createHoldMs = createHoldMs;
  }

  /**
   * The create of the step `stepId` of `job` was answered here and waits for the step's settle; after
   * `createHoldMs` without one (a long step), or when the step log writes the step, `send` sends it alone.
   */
  holdCreate(stepId: string, job: string, create: SentRequest, send: () => Promise<void>): void {
    const timer = setTimeout(() => void this.created(stepId), this.createHoldMs);
    timer.unref();
    this.unsent.set(stepId, { job, create, send, timer });
  }

  /** The create of `stepId` if it waits here, taken: the caller sends it (with the step's settle). */
  takeCreate(stepId: string): SentRequest | undefined {
    const unsent = this.unsent.get(stepId);
    if (unsent === undefined) return undefined;
    this.unsent.delete(stepId);
    clearTimeout(unsent.timer);
    return unsent.create;
  }

  /**
   * Resolves once Postgres has the create of `stepId` (sent now if it waited here) or it was never held: the
   * step log writes a step's row only after it, and a request naming the step goes only after it.
   */
  created(stepId: string): Promise<void> {
    const unsent = this.unsent.get(stepId);
    if (unsent !== undefined) {
      this.takeCreate(stepId);
      const sent = unsent
        .send()
        .catch(() => undefined)
        .finally(() => this.sending.delete(stepId));
      this.sending.set(stepId, sent);
      return sent;
    }
    return this.sending.get(stepId) ?? Promise.resolve();
  }

  /** Whether a create answered here for `stepId` is not yet known to Postgres. */
  unsentOrSending(stepId: string): boolean {
    return this.unsent.has(stepId) || this.sending.has(stepId);
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

  /**
   * Sends the creates waiting here and writes the held ends of `jobId` alone (before a read of its steps), or
   * every one (at close).
   */
  release(jobId?: string): void {
    for (const [stepId, unsent] of [...this.unsent])
      if (jobId === undefined || unsent.job === jobId) void this.created(stepId);
    for (const [stepId, held] of [...this.held])
      if (jobId === undefined || held.end.job === jobId) this.take(stepId)?.alone();
  }

  /** Resolves once every create sent from here so far has been answered. */
  async createsSent(): Promise<void> {
    await Promise.all(this.sending.values());
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
