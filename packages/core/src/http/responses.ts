/** Small response helpers of the HTTP face: JSON-RPC errors, and noticing when a streamed body ends. */

import { DEFAULTS_HTTP } from "../defaults.ts";

/** A JSON-RPC error response with no request ID, as the Streamable HTTP transport answers refusals. */
export function rpcError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * `response` with a body that calls `done` once it has been read to the end, failed, or been cancelled (the
 * client went away). SSE answers stream for as long as a tool call runs, so this is when an exchange is over.
 */
export function afterBody(response: Response, done: () => void): Response {
  let called = false;
  const finish = () => {
    if (called) return;
    called = true;
    done();
  };
  const source = response.body;
  if (source === null) {
    finish();
    return response;
  }
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          controller.close();
          finish();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        controller.error(error);
        finish();
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => undefined);
      finish();
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** The `Retry-After` of a refusal for load (503, 429): the client may try again this soon. */
export const RETRY_AFTER = { "retry-after": String(DEFAULTS_HTTP.retryAfterSeconds) };
