/**
 * The host side ext-tasks needs on a 2026-07-28 connection (`rawDispatch`): the SDK Client's codecs reject
 * task-shaped traffic, so requests are sent as raw JSON-RPC on the Client's own transport (stdio or HTTP),
 * and their answers are taken off the transport before the Client sees them.
 */
import type { Client, Transport } from "@modelcontextprotocol/client";
import {
  createTaskSessionFromClient,
  type RawClientDispatch,
  type WithTasksOptions,
} from "@modelcontextprotocol/ext-tasks/client";

type Message = { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

/** Sends raw JSON-RPC requests on the Client's transport and takes their answers before the Client sees them. */
export function rawDispatch(transport: Transport): RawClientDispatch {
  let next = 0;
  const pending = new Map<string, (message: Message) => void>();
  const forward = transport.onmessage;
  transport.onmessage = (message) => {
    const id = (message as Message).id;
    const settle = typeof id === "string" ? pending.get(id) : undefined;
    if (settle !== undefined && typeof id === "string") {
      pending.delete(id);
      settle(message as Message);
      return;
    }
    forward?.call(transport, message);
  };
  return async (request, options) => {
    next += 1;
    const id = `raw-${next}`;
    const answered = new Promise<Message>((resolve, reject) => {
      pending.set(id, resolve);
      options?.signal?.addEventListener("abort", () => reject(options.signal?.reason), { once: true });
    });
    await transport.send({ jsonrpc: "2.0", id, ...(request as object) } as never);
    const message = await answered;
    if (message.error !== undefined) return { kind: "error", error: message.error as never };
    return { kind: "result", result: message.result as never };
  };
}

/**
 * An ext-tasks session on a connected v2 Client, as a host makes one: raw dispatch on the Client's transport,
 * and the envelope of the capabilities the Client declared (`capabilities`).
 */
export function taskSessionOn(
  client: Client,
  transport: Transport,
  capabilities: Record<string, unknown>,
  options: Pick<WithTasksOptions, "onInputRequest"> = {},
) {
  return createTaskSessionFromClient(client, {
    endpointId: "test-server",
    rawDispatch: rawDispatch(transport),
    v2RequestFraming: {
      protocolVersion: client.getNegotiatedProtocolVersion() as string,
      clientInfo: { name: "test-host", version: "0" },
      clientCapabilities: capabilities as never,
    },
    ...options,
  });
}
