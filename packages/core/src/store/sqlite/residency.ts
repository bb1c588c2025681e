/**
 * Residency: which of the store file's entities the SDK's protocol server holds in RAM. In-flight work
 * (pending promises, unfinished tasks, schedules, timeouts) always; settled promises and fulfilled tasks only
 * while a request that names them is applied, read from the file before it and dropped again after it.
 */
import type { Request } from "@resonatehq/sdk";
import {
  type Change,
  type ProtocolServer,
  parsePromise,
  parseTask,
  type StoredSchedule,
} from "./sdk-internals.ts";
import type { Statements } from "./store-file.ts";

/** What a batch of requests applied in RAM but not yet committed loaded and created. */
export interface Uncommitted {
  /** Settled entities read from disk for these requests, dropped from RAM again after the commit. */
  loaded: Set<string>;
  /** Promises first written by this batch, in change order: RAM has them, the file not yet. */
  promiseIds: Set<string>;
}

/** Loads into the server's maps what a request needs from the file, and evicts what is settled. */
export class Residency {
  private readonly server: ProtocolServer;
  private readonly statements: () => Statements;

  /** `statements` are the open file's; it throws `CLOSED` when the file is not open. */
  constructor(server: ProtocolServer, statements: () => Statements) {
    this.server = server;
    this.statements = statements;
  }

  private get sql(): Statements {
    return this.statements();
  }

  /**
   * Brings into RAM the settled promises and fulfilled tasks `req` names (in-flight ones are always there),
   * and, where the answer carries a preload, the whole branch in creation order. Returns the ids loaded.
   */
  loadFor(req: Request, batch: Uncommitted | undefined): string[] {
    const loaded: string[] = [];
    for (const id of this.namedIds(req)) this.loadById(id, loaded);
    for (const branch of this.preloadBranches(req)) this.loadBranch(branch, loaded, batch);
    return loaded;
  }

  private namedIds(req: Request): string[] {
    switch (req.kind) {
      case "promise.get":
      case "promise.create":
      case "promise.settle":
      case "task.get":
      case "task.acquire":
      case "task.release":
      case "task.halt":
      case "task.continue":
        return [req.data.id];
      case "promise.register_callback":
        return [req.data.awaited, req.data.awaiter];
      case "promise.register_listener":
        return [req.data.awaited];
      case "task.create":
        return [req.data.action.data.id];
      case "task.fulfill":
      case "task.fence":
        return [req.data.id, req.data.action.data.id];
      case "task.suspend":
        return [req.data.id, ...req.data.actions.map((action) => action.data.awaited)];
      case "task.heartbeat":
        return req.data.tasks.map((task) => task.id);
      case "debug.tick": {
        // A due schedule creates its promise only if that id is new, so an old firing must be resident.
        const ids: string[] = [];
        for (const due of this.server.sTimeouts) {
          const schedule = this.server.schedules.get(due.id);
          if (schedule === undefined || req.data.time < due.timeout) continue;
          ids.push(
            schedule.promiseId
              .replaceAll("{{.id}}", schedule.id)
              .replaceAll("{{.timestamp}}", String(due.timeout)),
          );
        }
        return ids;
      }
      default:
        return [];
    }
  }

  /** The `resonate:branch` tags whose promises the answer to `req` may return as its preload. */
  private preloadBranches(req: Request): Set<string> {
    const branches = new Set<string>();
    let id: string;
    switch (req.kind) {
      case "task.create": {
        id = req.data.action.data.id;
        const requested = req.data.action.data.tags?.["resonate:branch"];
        if (requested) branches.add(requested);
        break;
      }
      case "task.acquire":
      case "task.suspend":
        id = req.data.id;
        break;
      default:
        return branches;
    }
    const existing = this.server.promises.get(id)?.tags["resonate:branch"];
    if (existing) branches.add(existing);
    return branches;
  }

  private loadById(id: string, loaded: string[]): void {
    const resident = this.server.promises.get(id);
    const sql = this.sql;
    if (resident !== undefined) {
      // A settled promise a branch preload brought in earlier in this batch came without its task.
      if (resident.state !== "pending" && !this.server.tasks.has(id)) {
        const taskRow = sql.getTask.get(id) as { body: string } | undefined;
        if (taskRow !== undefined) this.server.tasks.set(id, parseTask(taskRow.body));
      }
      return;
    }
    // A resident (pending) promise's task is resident too, so the task table is read only here.
    const row = sql.getPromiseAndTask.get(id) as { body: string; task: string | null } | undefined;
    if (row === undefined) return;
    this.server.promises.set(id, parsePromise(row.body));
    loaded.push(id);
    if (row.task !== null && !this.server.tasks.has(id)) this.server.tasks.set(id, parseTask(row.task));
  }

  /**
   * The server's preload lists a branch in the order its promises were created (map insertion order), so
   * the branch is re-inserted in creation order whenever part of it comes from disk. Promises of the
   * uncommitted `batch` are newer than every row of the file, so they follow the rows, in batch order.
   */
  private loadBranch(branch: string, loaded: string[], batch: Uncommitted | undefined): void {
    const rows = this.sql.branch.all(branch) as { id: string; body: string }[];
    const promises = this.server.promises;
    // Promises loaded by id a moment ago (by this request or an earlier one of the batch) sit at the end of
    // the map, out of creation order.
    const inOrder = (id: string) => promises.has(id) && !loaded.includes(id) && !batch?.loaded.has(id);
    if (rows.every((row) => inOrder(row.id))) return;
    const onDisk = new Set<string>();
    for (const row of rows) {
      onDisk.add(row.id);
      let promise = promises.get(row.id);
      if (promise === undefined) {
        promise = parsePromise(row.body);
        loaded.push(row.id);
      }
      promises.delete(row.id);
      promises.set(row.id, promise);
    }
    if (batch === undefined) return;
    for (const id of batch.promiseIds) {
      const promise = promises.get(id);
      if (promise === undefined || onDisk.has(id) || promise.tags["resonate:branch"] !== branch) continue;
      promises.delete(id);
      promises.set(id, promise);
    }
  }

  /**
   * Drops from RAM what no later request can change: settled promises and fulfilled tasks. Callbacks only
   * live on pending promises and fulfilment only touches unfulfilled tasks, so no answer changes.
   */
  evict(loaded: Iterable<string>, changes: Change[]): void {
    const candidates = new Set(loaded);
    for (const change of changes) {
      if (change.kind === "promise.set") candidates.add(change.promise.id);
      else if (change.kind === "task.set") candidates.add(change.task.id);
    }
    const { promises, tasks } = this.server;
    for (const id of candidates) {
      const promise = promises.get(id);
      const task = tasks.get(id);
      const settled = promise === undefined || promise.state !== "pending";
      const fulfilled = task === undefined || task.state === "fulfilled";
      if (settled && fulfilled) {
        promises.delete(id);
        tasks.delete(id);
      }
    }
  }

  /**
   * Replaces RAM with what the file holds: at open, and after a request failed half-way. Returns the seq
   * the next new row gets.
   */
  loadResident(): number {
    const sql = this.sql;
    const s = this.server;
    s.promises.clear();
    s.tasks.clear();
    s.schedules.clear();
    s.pTimeouts.length = 0;
    s.tTimeouts.length = 0;
    s.sTimeouts.length = 0;
    s.outgoing.length = 0;
    for (const row of sql.pendingPromises.all() as { body: string }[]) {
      const promise = parsePromise(row.body);
      s.promises.set(promise.id, promise);
    }
    for (const row of sql.unfulfilledTasks.all() as { body: string }[]) {
      const task = parseTask(row.body);
      s.tasks.set(task.id, task);
    }
    for (const row of sql.allSchedules.all() as { body: string }[]) {
      const schedule = JSON.parse(row.body) as StoredSchedule;
      s.schedules.set(schedule.id, schedule);
    }
    for (const row of sql.allTimeouts.all() as {
      kind: string;
      id: string;
      type: number;
      timeout: number;
    }[]) {
      if (row.kind === "p") s.pTimeouts.push({ id: row.id, timeout: row.timeout });
      else if (row.kind === "t")
        s.tTimeouts.push({ id: row.id, type: row.type === 1 ? 1 : 0, timeout: row.timeout });
      else s.sTimeouts.push({ id: row.id, timeout: row.timeout });
    }
    const { seq } = sql.maxSeq.get() as { seq: number | null };
    return (seq ?? 0) + 1;
  }
}
