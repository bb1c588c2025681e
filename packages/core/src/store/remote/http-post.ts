/**
 * One POST of a JSON body to a served store. Plain `http:` goes through `node:http` with a keep-alive agent
 * (on loopback about half the cost of `fetch`, which matters at 2 to 4 requests per job); `https:` through
 * `fetch`.
 */
// Not `import ... from "node:http"`: Node builds an ES module view of a built-in by reading every export,
// and node:http's lazy `WebSocket`-family getters then load the whole of undici, about 35 ms of every start.
const { Agent, request } = process.getBuiltinModule("node:http");

/** Sockets kept open per store, so concurrent requests (a start, a step's fulfil) do not wait in line. */
const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** How far behind its time a request's timer may fire before it counts as this process having been stopped. */
const LATE_TIMER_MS = 1000;

/** The answer to {@link postJson}: the HTTP status and the body as text. */
export interface Posted {
  status: number;
  contentType: string;
  text: string;
}

/**
 * POSTs `body` to `url` with the bearer `token`. When no answer has come within `timeoutMs`, `keepWaiting`
 * (default: never) says whether to wait another `timeoutMs`: a server that is stopped (a machine asleep)
 * answers once it runs again.
 *
 * @throws Error when the connection fails or no answer comes in time.
 */
export function postJson(
  url: string,
  token: string | undefined,
  body: string,
  timeoutMs: number,
  keepWaiting: () => boolean = () => false,
): Promise<Posted> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (url.startsWith("https:")) {
    return fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) }).then(
      async (response) => ({
        status: response.status,
        contentType: response.headers.get("content-type") ?? "",
        text: await response.text(),
      }),
    );
  }
  return postOnce(url, headers, body, timeoutMs, keepWaiting);
}

/**
 * One request. A reset on a kept-alive socket before any answer is the server having closed it while it sat
 * idle, which a process that was stopped (a laptop asleep) notices only as it writes: the request goes again,
 * as requests a dying owner cut off go to the next one. Each such failure discards one pooled socket, so the
 * retries end at the latest on a new socket, whose failure is final.
 */
function postOnce(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  keepWaiting: () => boolean,
): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      agent,
      headers: { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
    });
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const armed = performance.now();
      timer = setTimeout(() => {
        // A timer far behind its time means this process was stopped: timers run before the socket is
        // read, so the answer may be waiting there. It gets another period, like a stopped server.
        const late = performance.now() - armed - timeoutMs > LATE_TIMER_MS;
        if (late || keepWaiting()) arm();
        else req.destroy(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    };
    arm();
    req.on("close", () => clearTimeout(timer));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
      res.on("error", reject);
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
        resolve(postOnce(url, headers, body, timeoutMs, keepWaiting));
      } else reject(error);
    });
    req.end(body);
  });
}
