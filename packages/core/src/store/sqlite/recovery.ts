/**
 * Recovery: the work a previous owner of the file left in flight (acquired or pending tasks) is resumed by
 * making its leases and retries fall due now, instead of after a lease timeout. Which tasks: those in flight
 * when the file was opened (the file lock proves their process dead), less those of peers that may still live,
 * or the tasks of one process known to be gone.
 */
import type { ProtocolServer, StoredTask } from "./sdk-internals.ts";

/** Which tasks of the file to resume. */
export type TaskPick = (task: StoredTask) => boolean;

/** The tasks a previous process left, noted at open, and how to make their timeouts fall due. */
export class Recovery {
  private readonly server: ProtocolServer;
  /** The tasks in flight when the file was opened, with the version they had then. */
  private readonly orphans = new Map<string, number>();

  /** Resumes tasks of `server`'s maps (the store's resident state). */
  constructor(server: ProtocolServer) {
    this.server = server;
  }

  /** Notes the tasks in flight in the file just opened: a previous process left them. */
  opened(): void {
    for (const task of this.server.tasks.values()) {
      if (task.state === "acquired" || task.state === "pending") this.orphans.set(task.id, task.version);
    }
  }

  /**
   * The tasks left in flight at open and unchanged since, less the acquired ones of processes `spare` keeps
   * (peers of a shared store, which may still live). Forgets them: recovery happens once.
   */
  leftBehind(spare?: (pid: string) => boolean): TaskPick {
    const orphans = new Map(this.orphans);
    this.orphans.clear();
    return (task) =>
      orphans.get(task.id) === task.version &&
      !(task.state === "acquired" && task.pid !== undefined && spare?.(task.pid));
  }

  /** The tasks `pid` holds (for a process known to be gone). */
  heldBy(pid: string): TaskPick {
    return (task) => task.state === "acquired" && task.pid === pid;
  }

  /** The processes holding acquired tasks, for a new owner that must learn which of them still live. */
  holders(): Set<string> {
    const pids = new Set<string>();
    for (const task of this.server.tasks.values())
      if (task.state === "acquired" && task.pid !== undefined) pids.add(task.pid);
    return pids;
  }

  /**
   * Makes the leases and retries of the tasks `pick` selects fall due at `now`, except delayed work
   * (`resonate:delay`) not yet due; returns how many. The next timeout tick hands them out.
   */
  resume(pick: TaskPick, now: number): number {
    let resumed = 0;
    for (const timeout of this.server.tTimeouts) {
      const task = this.server.tasks.get(timeout.id);
      if (task === undefined || !pick(task)) continue;
      const delay = Number(this.server.promises.get(task.id)?.tags["resonate:delay"]);
      const deferred = task.state === "pending" && Number.isFinite(delay) && delay > now;
      if ((task.state === "acquired" || task.state === "pending") && !deferred) {
        timeout.timeout = Math.min(timeout.timeout, now);
        resumed++;
      }
    }
    return resumed;
  }
}
