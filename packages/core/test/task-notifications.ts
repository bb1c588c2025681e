/**
 * The client side of 2026-07-28 task status notifications in tests: a v2 Client opens `subscriptions/listen`
 * for some task IDs (the SDK passes the filter through as given), and every `notifications/tasks` it receives
 * is kept, in order, after whatever handler was there before (ext-tasks installs one). The acknowledgements
 * are read off the transport: the SDK Client decodes them with its own filter schema, which drops `taskIds`.
 */
import type { Client, Transport } from "@modelcontextprotocol/client";

/** A `notifications/tasks` as received: the task's state, as `tasks/get` would answer it. */
export interface TaskNotification {
  taskId: string;
  status: string;
  result?: { structuredContent?: unknown; isError?: boolean };
  inputRequests?: Record<string, { method: string; params?: unknown }>;
  _meta?: Record<string, unknown>;
}

/** What the client received: task notifications, and the filters the server acknowledged. */
export interface Received {
  tasks: TaskNotification[];
  acknowledged: { taskIds?: string[] }[];
}

/** Keeps every `notifications/tasks` and listen acknowledgement the client receives from now on. */
export function keepTaskNotifications(client: Client, transport: Transport): Received {
  const received: Received = { tasks: [], acknowledged: [] };
  const previous = client.fallbackNotificationHandler;
  client.fallbackNotificationHandler = async (notification) => {
    if (notification.method === "notifications/tasks") received.tasks.push(notification.params as never);
    await previous?.(notification);
  };
  const forward = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const { method, params } = message as { method?: string; params?: { notifications?: never } };
    if (method === "notifications/subscriptions/acknowledged" && params?.notifications !== undefined) {
      received.acknowledged.push(params.notifications);
    }
    forward?.call(transport, message, extra);
  };
  return received;
}

/** Opens a listen for `taskIds`: the SDK's filter type knows no task IDs, the wire does. */
export function listenToTasks(client: Client, taskIds: string[]) {
  return client.listen({ taskIds } as Parameters<Client["listen"]>[0]);
}
