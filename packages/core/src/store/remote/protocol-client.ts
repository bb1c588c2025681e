/**
 * One typed client for the requests async-tools sends itself to a served store: the job index
 * (`asyncTools.jobs.*`) and the reachability ping, in Resonate's envelope.
 */
import { randomUUID } from "node:crypto";
import { AsyncToolsError } from "../../errors.ts";
import type { JobsKind, JobsProtocol } from "../protocol.ts";
import { postJson } from "./http-post.ts";

/** Sends job-index requests to a served store. */
export class ProtocolClient {
  private readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: { url: string; token?: string; timeoutMs: number }) {
    this.url = options.url;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs;
  }

  /**
   * Sends one request; the answer's data on 200, `undefined` on 404.
   *
   * @throws AsyncToolsError `STORE_UNREACHABLE` when the store does not answer or answers otherwise.
   */
  async jobs<K extends JobsKind>(
    kind: K,
    data: JobsProtocol[K]["data"],
  ): Promise<JobsProtocol[K]["result"] | undefined> {
    const corrId = randomUUID();
    let posted: Awaited<ReturnType<typeof postJson>>;
    try {
      posted = await postJson(
        this.url,
        this.token,
        JSON.stringify({ kind, head: { corrId, version: "" }, data }),
        this.timeoutMs,
      );
    } catch (cause) {
      throw unreachable(this.url, cause instanceof Error ? cause.message : String(cause), cause);
    }
    let body: { kind?: string; head?: { corrId?: string; status?: number }; data?: unknown };
    try {
      body = JSON.parse(posted.text);
    } catch (cause) {
      throw unreachable(this.url, `HTTP ${posted.status} without a JSON answer`, cause);
    }
    if (body.kind !== kind || body.head?.corrId !== corrId) {
      throw unreachable(this.url, `HTTP ${posted.status}: not an answer to ${kind}`);
    }
    if (body.head.status === 404) return undefined;
    if (body.head.status !== 200) {
      throw unreachable(this.url, `status ${body.head.status}: ${JSON.stringify(body.data)}`);
    }
    return body.data as JobsProtocol[K]["result"];
  }
}

function unreachable(url: string, why: string, cause?: unknown): AsyncToolsError {
  return new AsyncToolsError("STORE_UNREACHABLE", `The store ${url} did not answer the job index (${why}).`, {
    cause,
  });
}
