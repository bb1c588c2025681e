/**
 * Serves an embedded store over Resonate's own HTTP protocol, what the SDK's `HttpNetwork` speaks: every
 * request is a POST of `{kind, head, data}` to the base URL, and messages travel as SSE events on
 * `GET /poll/{group}/{pid}`. The job index and the step log ride the same POST endpoint (`asyncTools.jobs.*`,
 * `asyncTools.steps.*`). A stream opened with `?changes=1` (a process that joined the store) also carries the
 * store's change feed, as `changes` events (`&what=1`: what changed and whose job it is, not only the job's
 * ID). Every request must carry the store's bearer token.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Message, Request } from "@resonatehq/sdk";
import { DEFAULTS_SERVED_STORE } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import {
  CHANGES_EVENT,
  type Envelope,
  isEnvelope,
  JOBS_PREFIX,
  type JobsProtocol,
  STEPS_PREFIX,
  type StepsProtocol,
} from "../protocol.ts";
import type { JobMeta } from "../sqlite/job-meta.ts";
import type { SqliteNetwork } from "../sqlite/sqlite-network.ts";
import type { StepLog } from "../sqlite/step-log.ts";
import { MessageRouter } from "./router.ts";

// Not a value import of node:http: its ES module view loads undici (see remote/http-post.ts).
const { createServer } = process.getBuiltinModule("node:http");

/** Options of {@link serveStore}. */
export interface ServeStoreOptions {
  network: SqliteNetwork;
  jobs: JobMeta;
  /** The step log on the same file; without it, `asyncTools.steps.*` requests are answered 404. */
  steps?: StepLog;
  /** The bearer token every request must carry. */
  token: string;
  /** Interface to listen on. Default `127.0.0.1`: peers of this machine only. */
  host?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** How long a process may stay disconnected before its work goes to the others, in ms. */
  graceMs: number;
  /** How far back messages are sent again after a reconnect, in ms. */
  replayMs: number;
  /** Largest request body accepted, in bytes; a larger declared length is refused before any of it is read. */
  maxBodyBytes: number;
  /** Connections held at once; one more is closed at once. Default `DEFAULTS_SERVED_STORE.maxConnections`. */
  maxConnections?: number;
  /** Called when a process counts as dead, after the router moved its messages on. */
  onDead?: (pid: string) => void;
  /** The time requests are applied at; tests drive it. Default `Date.now`. */
  clock?: () => number;
}

/** A running served store. */
export interface StoreServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  router: MessageRouter;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** How often an idle message stream carries a comment, in ms. */
export const SSE_PING_MS = 15_000;

/** The HTTP statuses `HttpNetwork` takes as protocol answers; anything else it treats as a failure. */
const PROTOCOL_STATUSES = new Set([200, 300, 404, 409, 422, 501]);

/** The Resonate requests a served store answers (`debug.*` is the owner's own business). */
const RESONATE_KINDS: ReadonlySet<string> = new Set([
  "promise.get",
  "promise.create",
  "promise.settle",
  "promise.register_callback",
  "promise.register_listener",
  "promise.search",
  "task.get",
  "task.create",
  "task.acquire",
  "task.release",
  "task.fulfill",
  "task.suspend",
  "task.halt",
  "task.continue",
  "task.fence",
  "task.heartbeat",
  "task.search",
  "schedule.get",
  "schedule.create",
  "schedule.delete",
  "schedule.search",
] satisfies Request["kind"][]);

/**
 * Starts serving `network` (and its job index) over HTTP; messages for the processes that connect are
 * routed by address, those for the serving process itself reach its subscribers.
 *
 * @example
 * ```ts
 * const served = await serveStore({ network, jobs, token, graceMs: 3000, replayMs: 5000, maxBodyBytes: 2 ** 25 });
 * console.error(`serving on ${served.url}`);
 * ```
 */
export async function serveStore(options: ServeStoreOptions): Promise<StoreServer> {
  const { network, jobs, steps } = options;
  const expected = Buffer.from(`Bearer ${options.token}`);
  const router = new MessageRouter({
    graceMs: options.graceMs,
    replayMs: options.replayMs,
    onDead: (pid) => {
      try {
        network.releaseProcess(pid);
      } catch (error) {
        log("warn", "cannot release the work of a dead process", { pid, error });
      }
      options.onDead?.(pid);
    },
  });
  network.routeMessages((address, message) => router.route(address, message));

  const authorized = (req: IncomingMessage): boolean => {
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const server: Server = createServer((req, res) => {
    // Refusals come from the headers alone: none of the body is read, and the connection is closed after
    // the answer, so an unauthenticated or oversized upload costs a few socket buffers at most.
    if (!authorized(req)) {
      refuse(req, res, 401, { error: "this store needs its token (see the .serve.json file beside it)" });
      return;
    }
    if (Number(req.headers["content-length"] ?? 0) > options.maxBodyBytes) {
      refuse(req, res, 413, { error: `request body over ${options.maxBodyBytes} bytes` });
      return;
    }
    const poll = /^\/poll\/([^/]+)\/([^/?]+)\/?(?:\?.*)?$/.exec(req.url ?? "");
    if (req.method === "GET" && poll !== null) {
      const query = new URL(req.url ?? "", "http://store").searchParams;
      // A joiner of an older async-tools asks for the jobs' IDs alone.
      const changes = query.get("changes") !== "1" ? undefined : query.get("what") === "1" ? "what" : "ids";
      stream(req, res, decodeURIComponent(poll[1] as string), decodeURIComponent(poll[2] as string), changes);
      return;
    }
    if (req.method === "POST" && (req.url === "/" || req.url === "")) {
      readBody(req, options.maxBodyBytes)
        .then((body) => answer(body))
        .then(([status, reply]) => json(res, status, reply))
        .catch((error: unknown) => {
          const tooLarge = (error as { tooLarge?: boolean }).tooLarge === true;
          if (!tooLarge) log("warn", "a served store request failed", { error });
          json(res, tooLarge ? 413 : 500, { error: error instanceof Error ? error.message : String(error) });
        });
      return;
    }
    req.resume();
    json(res, 404, { error: "not found" });
  });

  const stream = (
    req: IncomingMessage,
    res: ServerResponse,
    group: string,
    pid: string,
    changes: "what" | "ids" | undefined,
  ): void => {
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
    });
    res.write(": connected\n\n");
    // A comment now and then keeps an idle stream from being timed out by a client (fetch gives up on a
    // body silent for 5 minutes), which would look like the owner's death.
    const ping = setInterval(() => {
      if (!res.destroyed && !res.writableEnded) res.write(": ping\n\n");
    }, SSE_PING_MS);
    ping.unref();
    res.on("close", () => clearInterval(ping));
    const detach = router.connect(group, pid, (message: Message) => {
      if (res.destroyed || res.writableEnded) return false;
      res.write(`data: ${JSON.stringify(message)}\n\n`);
      return true;
    });
    req.socket.setNoDelay(true);
    res.on("close", detach);
    if (changes !== undefined) {
      const unsubscribe = network.changes.subscribe((changed) => {
        const sent = changes === "ids" && changed !== "any" ? changed.map((change) => change.id) : changed;
        if (!res.destroyed && !res.writableEnded)
          res.write(`event: ${CHANGES_EVENT}\ndata: ${JSON.stringify(sent)}\n\n`);
      });
      res.on("close", unsubscribe);
    }
  };

  const answer = async (body: string): Promise<[number, unknown]> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return [400, { error: "the body is not JSON" }];
    }
    if (!isEnvelope(parsed)) return [400, { error: "not a request envelope {kind, head: {corrId}, data}" }];
    const request = parsed;
    const reply = (status: number, data: unknown): [number, unknown] => [
      PROTOCOL_STATUSES.has(status) ? status : 200,
      {
        kind: request.kind,
        head: { corrId: request.head.corrId, status, version: request.head.version ?? "" },
        data,
      },
    ];
    if (request.kind.startsWith("debug.")) {
      // `debug.reset` would wipe the store; the owner ticks timeouts itself.
      return [
        403,
        {
          kind: request.kind,
          head: { corrId: request.head.corrId, status: 403 },
          data: "debug requests are not served",
        },
      ];
    }
    if (request.kind.startsWith(JOBS_PREFIX)) {
      const result = await jobsRequest(jobs, network, request);
      return result === undefined ? reply(404, "not found") : reply(200, result);
    }
    if (request.kind.startsWith(STEPS_PREFIX)) {
      const result = steps === undefined ? undefined : await stepsRequest(steps, request);
      return result === undefined ? reply(404, "not found") : reply(200, result);
    }
    if (!RESONATE_KINDS.has(request.kind)) {
      const known = [...RESONATE_KINDS, `${JOBS_PREFIX}*`, `${STEPS_PREFIX}*`].join(", ");
      return [
        400,
        { error: `unknown request kind ${JSON.stringify(request.kind)}; this store serves ${known}` },
      ];
    }
    const { head } = request;
    const req = { ...request, head: { corrId: head.corrId, version: head.version ?? "" } } as Request;
    const response =
      options.clock === undefined ? await network.send(req) : network.applyAt(options.clock(), req);
    return [PROTOCOL_STATUSES.has(response.head.status) ? response.head.status : 200, response];
  };

  server.maxConnections = options.maxConnections ?? DEFAULTS_SERVED_STORE.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    router,
    close: () =>
      new Promise<void>((resolve) => {
        router.close();
        network.routeMessages(undefined);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers one `asyncTools.jobs.*` request; `undefined` for a row that does not exist. */
async function jobsRequest(jobs: JobMeta, network: SqliteNetwork, request: Envelope): Promise<unknown> {
  switch (request.kind as keyof JobsProtocol) {
    case "asyncTools.jobs.record": {
      const { rows } = request.data as JobsProtocol["asyncTools.jobs.record"]["data"];
      jobs.recordMany(rows);
      return {};
    }
    case "asyncTools.jobs.progress": {
      const data = request.data as JobsProtocol["asyncTools.jobs.progress"]["data"];
      jobs.progress(data.id, data.tool, data.fraction, data.message, data.updatedAt);
      return {};
    }
    case "asyncTools.jobs.get": {
      const { id } = request.data as JobsProtocol["asyncTools.jobs.get"]["data"];
      return { row: (await jobs.get(id)) ?? null };
    }
    case "asyncTools.jobs.list":
      return jobs.list(request.data as JobsProtocol["asyncTools.jobs.list"]["data"]);
    case "asyncTools.jobs.prune": {
      const { before } = request.data as JobsProtocol["asyncTools.jobs.prune"]["data"];
      return { count: await jobs.pruneBefore(before) };
    }
    case "asyncTools.jobs.settled": {
      const { ids } = request.data as JobsProtocol["asyncTools.jobs.settled"]["data"];
      return { settled: await network.settledAmong(Array.isArray(ids) ? ids.map(String) : []) };
    }
    default:
      return undefined;
  }
}

/** Answers one `asyncTools.steps.*` request; `undefined` for an unknown kind. */
async function stepsRequest(steps: StepLog, request: Envelope): Promise<unknown> {
  switch (request.kind as keyof StepsProtocol) {
    case "asyncTools.steps.begin": {
      const d = request.data as StepsProtocol["asyncTools.steps.begin"]["data"];
      return { attempt: await steps.begin(d.jobId, d.stepId, d.name, d.now) };
    }
    case "asyncTools.steps.end": {
      const d = request.data as StepsProtocol["asyncTools.steps.end"]["data"];
      steps.end(d.jobId, d.stepId, d.attempt, d.now, d.error);
      return {};
    }
    case "asyncTools.steps.retryAt": {
      const d = request.data as StepsProtocol["asyncTools.steps.retryAt"]["data"];
      steps.retryAt(d.jobId, d.stepId, d.attempt, d.at);
      return {};
    }
    case "asyncTools.steps.list": {
      const { jobId } = request.data as StepsProtocol["asyncTools.steps.list"]["data"];
      return { steps: await steps.steps(jobId) };
    }
    case "asyncTools.steps.prune": {
      const { before } = request.data as StepsProtocol["asyncTools.steps.prune"]["data"];
      return { count: await steps.pruneBefore(before) };
    }
    case "asyncTools.steps.forget": {
      const { jobId } = request.data as StepsProtocol["asyncTools.steps.forget"]["data"];
      await steps.forget(jobId);
      return {};
    }
    default:
      return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers from the headers alone and closes the connection once the answer is out, reading no body. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  res.setHeader("Connection", "close");
  res.once("finish", () => req.socket.destroySoon());
  json(res, status, body);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(Object.assign(new Error(`request body over ${limit} bytes`), { tooLarge: true }));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
