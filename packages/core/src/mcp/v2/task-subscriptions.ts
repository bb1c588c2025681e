/**
 * `notifications/tasks` of the 2026-07-28 Tasks extension: a client opens a `subscriptions/listen` stream whose
 * filter names `taskIds`, and gets each followed task's full state (what `tasks/get` answers) at once and again
 * whenever its status or its outstanding input requests change. The v2 SDK's listen routers know only the
 * list-changed and resource filters and drop `taskIds`, so both transports hand such a request here instead.
 * Each change is read from the durable store when its change feed says a followed task changed (or, without a
 * feed, at each poll), so a task finished or answered by another process (or before a restart) is reported like
 * one of this process.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { ProtocolErrorCode, SUBSCRIPTION_ID_META_KEY } from "@modelcontextprotocol/server";
import { DEFAULTS } from "../../defaults.ts";
import { ChangeWatch, type ChangeWatchOptions } from "../../runtime/change-watch.ts";
import type { CallerScope } from "../../runtime/job.ts";
import type { ExtensionTasks } from "./tasks-extension.ts";
import { missingTasksCapability, TASKS_EXTENSION } from "./tasks-extension.ts";

const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
const PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion";

/** A `subscriptions/listen` request whose filter names task IDs: the ones this module serves. */
export interface TaskListen {
  id: string | number;
  /** The filter's `taskIds`, as sent (checked by {@link followTasks}). */
  taskIds: unknown;
  /** Whether the request declared the Tasks extension in its client capabilities. */
  declaresTasks: boolean;
}

/**
 * The task listen in `message`, or `undefined` for anything else: another method, a 2025-11-25 message (no
 * envelope), or a listen for list changes only, which the SDK serves itself.
 */
export function taskListenOf(message: unknown): TaskListen | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { id, method, params } = message as { id?: unknown; method?: unknown; params?: unknown };
  if (method !== "subscriptions/listen" || (typeof id !== "string" && typeof id !== "number"))
    return undefined;
  const { _meta: meta, notifications } = (params ?? {}) as { _meta?: unknown; notifications?: unknown };
  if (typeof notifications !== "object" || notifications === null || !("taskIds" in notifications)) {
    return undefined;
  }
  const envelope = (meta ?? {}) as Record<string, unknown>;
  if (envelope[PROTOCOL_VERSION] === undefined) return undefined;
  const capabilities = envelope[CLIENT_CAPABILITIES] as { extensions?: Record<string, unknown> } | undefined;
  return {
    id,
    taskIds: (notifications as { taskIds: unknown }).taskIds,
    declaresTasks: capabilities?.extensions?.[TASKS_EXTENSION] !== undefined,
  };
}

/** Where a subscription's messages go: one JSON-RPC message at a time, in order. */
export type SubscriptionSink = (message: JSONRPCMessage) => Promise<void>;

/**
 * Options of {@link followTasks}; `recheckMs` and `pollMs` say how often the followed tasks are read anyway
 * (with the store's change feed) or at all (without one).
 */
export interface FollowOptions extends ChangeWatchOptions {
  /** Ends the subscription (the client cancelled it or went away); nothing is sent after it aborts. */
  signal: AbortSignal;
}

/** A JSON-RPC error object. */
export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * Why a task listen is refused, if it is: a request that did not declare the extension gets -32021 (the
 * extension's rule for task notifications), a `taskIds` that is not a list of at most
 * {@link DEFAULTS.maxIdsPerCall} strings gets -32602.
 */
export function listenRefusal(listen: TaskListen): RpcError | undefined {
  if (!listen.declaresTasks) {
    const { code, message, data } = missingTasksCapability();
    return { code, message, data };
  }
  const { taskIds } = listen;
  if (
    !Array.isArray(taskIds) ||
    taskIds.length > DEFAULTS.maxIdsPerCall ||
    !taskIds.every((t) => typeof t === "string")
  ) {
    const message = `Invalid params: notifications.taskIds must be a list of at most ${DEFAULTS.maxIdsPerCall} task IDs.`;
    return { code: ProtocolErrorCode.InvalidParams, message };
  }
  return undefined;
}

/**
 * Serves one task listen until every followed task is finished or `signal` aborts. A refused request (see
 * {@link listenRefusal}) gets its error. Otherwise it acknowledges the task IDs the caller may read (an
 * unknown task, or another principal's, is left out of the acknowledgement), sends each one's state, then
 * each change of status or of outstanding input requests, as `notifications/tasks` carrying what `tasks/get`
 * would answer. Once all are finished it ends the subscription with the empty `subscriptions/listen` result,
 * the spec's graceful close.
 */
export async function followTasks(
  tasks: ExtensionTasks,
  listen: TaskListen,
  caller: CallerScope,
  sink: SubscriptionSink,
  options: FollowOptions,
): Promise<void> {
  const { id, taskIds } = listen;
  const refusal = listenRefusal(listen);
  if (refusal !== undefined) return sink({ jsonrpc: "2.0", id, error: refusal });
  const stamp = { [SUBSCRIPTION_ID_META_KEY]: id };
  const { signal } = options;
  const send = async (message: JSONRPCMessage) => {
    if (!signal.aborted) await sink(message);
  };
  const read = async (taskId: string) => {
    try {
      return (await tasks.get(taskId, caller)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const notify = ({ resultType: _, ...task }: Record<string, unknown>) =>
    send({ jsonrpc: "2.0", method: "notifications/tasks", params: { ...task, _meta: stamp } });

  const followed = new Map<string, string>();
  const wanted = new Set(taskIds as string[]);
  // Watched before the first reads, so a change made while they run is read again.
  const changes = new ChangeWatch(tasks.changes, (taskId) => wanted.has(taskId), options);
  try {
    const first: Record<string, unknown>[] = [];
    for (const taskId of wanted) {
      const task = await read(taskId);
      if (task === undefined) continue;
      followed.set(taskId, fingerprintOf(task));
      first.push(task);
    }
    await send({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: { taskIds: [...followed.keys()] }, _meta: stamp },
    });
    for (const task of first) {
      await notify(task);
      if (isTerminal(task)) followed.delete(task.taskId as string);
    }
    while (followed.size > 0 && !signal.aborted) {
      const changed = await changes.next(signal);
      if (changed === undefined) break;
      for (const [taskId, seen] of followed) {
        if (signal.aborted) break;
        if (changed !== "all" && !changed.has(taskId)) continue;
        const task = await read(taskId);
        if (task === undefined) {
          followed.delete(taskId);
          continue;
        }
        const now = fingerprintOf(task);
        if (now === seen) continue;
        followed.set(taskId, now);
        await notify(task);
        if (isTerminal(task)) followed.delete(taskId);
      }
    }
  } finally {
    changes.close();
  }
  await send({ jsonrpc: "2.0", id, result: { resultType: "complete", _meta: stamp } });
}

/** What a notification is sent for: the status and the outstanding input request keys. */
function fingerprintOf(task: Record<string, unknown>): string {
  const requests = task.inputRequests as Record<string, unknown> | undefined;
  return JSON.stringify([task.status, Object.keys(requests ?? {}).sort()]);
}

function isTerminal(task: Record<string, unknown>): boolean {
  return task.status === "completed" || task.status === "failed" || task.status === "cancelled";
}
