/**
 * A fake upstream API on 127.0.0.1 for the `upstream` bench tool: it records every request (job, arrival
 * time) and how many are in flight at once, and answers as the check says: at once, after a gate opens, with
 * a status and headers, never (a hung upstream), or by dropping the connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { preciseNow } from "./bench-server.ts";

/** One request the fake received. */
export interface UpstreamRequest {
  job: string;
  n: number;
  /** Wall-clock arrival, ms (comparable with {@link preciseNow} in other processes). */
  at: number;
  /** 0-based index of this request among the job's requests. */
  attempt: number;
}

/**
 * How to answer one request: a status (with headers), `hang` to never answer, or `reset` to drop the
 * connection without an answer (a hang that ends in a network error).
 */
export type Answer = { status: number; headers?: Record<string, string> } | "hang" | "reset";

/** What the fake does with each request; may wait before answering. */
export type Behaviour = (request: UpstreamRequest) => Answer | Promise<Answer>;

/** A running fake upstream. */
export interface FakeUpstream {
  url: string;
  /** Every request so far, in arrival order. */
  readonly requests: UpstreamRequest[];
  /** Requests received and not yet answered or abandoned by the client. */
  inFlight(): number;
  /** The most requests ever in flight at once. */
  maxInFlight(): number;
  /** Requests per job. */
  perJob(): Map<string, number>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a fake upstream on 127.0.0.1 with an ephemeral port. */
export async function startFakeUpstream(behaviour: Behaviour): Promise<FakeUpstream> {
  const requests: UpstreamRequest[] = [];
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const at = preciseNow();
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // `close` fires once the answer is sent or the client gave up on it: either way it is no longer in flight.
    res.once("close", () => {
      inFlight -= 1;
    });
    const query = new URL(req.url ?? "/", "http://127.0.0.1").searchParams;
    const job = query.get("job") ?? "";
    const attempt = counts.get(job) ?? 0;
    counts.set(job, attempt + 1);
    const request: UpstreamRequest = { job, n: Number(query.get("n")), at, attempt };
    requests.push(request);
    const answer = await behaviour(request);
    if (answer === "hang" || res.destroyed) return;
    if (answer === "reset") {
      res.destroy();
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(JSON.stringify({ job, attempt }));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    perJob: () => new Map(counts),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A gate that holds answers until it is opened; opened, it lets everything through at once. */
export function gate(): { wait(): Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => opened, open };
}
