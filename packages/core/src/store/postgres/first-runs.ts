/**
 * Which step creates a Postgres replica may answer itself: those of a task on its first run (version 1, held by
 * this replica since it created or acquired it), for a step promise this replica has not asked for before, while
 * an answer of Postgres recently showed the task still held here. Such a promise cannot exist yet: children are
 * created only under the task's fence, and no one held the task before. The create is then sent with the step's
 * settle, one round trip per step rather than two, as the embedded store commits a step's creation with its result.
 */
import type { Request } from "@resonatehq/sdk";
import { STEP_TAG } from "../store.ts";

/** Tasks followed at once; past this many the oldest is dropped (its steps' creates go to Postgres). */
const MAX_TASKS = 10_000;

type Fence = Extract<Request, { kind: "task.fence" }>;
/** The fenced create of a promise. */
type FencedCreate = Fence & {
  data: { action: Extract<Fence["data"]["action"], { kind: "promise.create" }> };
};

/** A task on its first run in this replica. */
interface FirstRun {
  /** When the last request whose answer showed the task held here was sent (epoch ms). */
  heldAt: number;
  /** Step promises this replica asked Postgres for or answered itself. */
  seen: Set<string>;
}

/** The fenced create of a step's promise in `request`, if it is one. */
export function stepCreateOf(request: Request): FencedCreate | undefined {
  if (request.kind !== "task.fence" || request.data.action.kind !== "promise.create") return undefined;
  const tags = request.data.action.data.tags as Record<string, string> | undefined;
  return tags?.[STEP_TAG] === undefined ? undefined : (request as FencedCreate);
}

/** The promise IDs `request` names: those a held create must reach Postgres before. */
export function promiseIdsOf(request: Request): string[] {
  const data = request.data as {
    id?: unknown;
    awaited?: unknown;
    action?: { data?: { id?: unknown } };
    actions?: { data?: { awaited?: unknown } }[];
  };
  const ids = [
    data.id,
    data.awaited,
    data.action?.data?.id,
    ...(data.actions ?? []).map((a) => a.data?.awaited),
  ];
  return ids.filter((id): id is string => typeof id === "string");
}

/** The tasks on their first run here, and which of their steps' creates this replica answers itself. */
export class FirstRuns {
  private readonly tasks = new Map<string, FirstRun>();
  private readonly trustMs: number;

  /** `trustMs`: how long after an answer showing a task held here its step creates may be answered here. */
  constructor(trustMs: number) {
    this.trustMs = trustMs;
  }

  /**
   * Learns from `answer` to `request`, sent at `sentAt`: a task created or acquired at version 1 is on its first
   * run here; a fenced request accepted shows it still held. A task fulfilled, released or suspended is dropped.
   */
  observe(request: Request, answer: unknown, sentAt: number): void {
    const ok = (answer as { head?: { status?: number } } | undefined)?.head?.status === 200;
    switch (request.kind) {
      case "task.create":
      case "task.acquire": {
        const task = (answer as { data?: { task?: { id?: string; version?: number; state?: string } } })?.data
          ?.task;
        if (ok && task?.version === 1 && task.state === "acquired" && typeof task.id === "string") {
          this.tasks.delete(task.id);
          this.tasks.set(task.id, { heldAt: sentAt, seen: new Set() });
          if (this.tasks.size > MAX_TASKS) {
            const oldest = this.tasks.keys().next().value;
            if (oldest !== undefined) this.tasks.delete(oldest);
          }
        }
        return;
      }
      case "task.fence": {
        const run = this.tasks.get(request.data.id);
        if (run === undefined) return;
        if (ok && request.data.version === 1) run.heldAt = Math.max(run.heldAt, sentAt);
        else this.tasks.delete(request.data.id);
        return;
      }
      default:
        return;
    }
  }

  /** Forgets a task whose run here ends with `request` (fulfilled, released, suspended). */
  ending(request: Request): void {
    if (request.kind === "task.fulfill" || request.kind === "task.release" || request.kind === "task.suspend")
      this.tasks.delete(request.data.id);
  }

  /**
   * Whether the step create `create` may be answered here at `now`; either way its promise counts as seen, so a
   * second create of it (a replay in a later pass) goes to Postgres.
   */
  mayAnswer(create: FencedCreate, now: number): boolean {
    const run = this.tasks.get(create.data.id);
    if (run === undefined || create.data.version !== 1) return false;
    const id = create.data.action.data.id;
    if (run.seen.has(id)) return false;
    run.seen.add(id);
    const timeoutAt = create.data.action.data.timeoutAt;
    // A promise whose timeout is near would be created timed out by Postgres: its create goes there.
    return now - run.heldAt < this.trustMs && timeoutAt > now + this.trustMs;
  }
}

/** The answer Postgres (resonate-pg's `promise_create` under `task_fence`) gives a create of a new promise. */
export function createdAnswer(create: FencedCreate, now: number): unknown {
  const action = create.data.action;
  const head = { corrId: create.head.corrId, status: 200, version: create.head.version ?? "1" };
  const param = action.data.param as { headers?: Record<string, string>; data?: string } | undefined;
  return {
    kind: "task.fence",
    head,
    data: {
      action: {
        kind: "promise.create",
        head,
        data: {
          promise: {
            id: action.data.id,
            state: "pending",
            param: { headers: param?.headers ?? {}, data: param?.data ?? null },
            value: { headers: {}, data: null },
            tags: action.data.tags ?? {},
            timeoutAt: action.data.timeoutAt,
            createdAt: now,
            settledAt: null,
          },
        },
      },
      preload: [],
    },
  };
}
