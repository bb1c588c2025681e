/**
 * The network of a process that joined a store on this machine: Resonate's HTTP protocol (the wire format
 * the SDK's `HttpNetwork` speaks, and the same statuses it accepts) over a keep-alive `node:http` agent,
 * with messages from the owner's SSE stream.
 */
import {
  type Message,
  type Network,
  type Request,
  ResonateTimeoutException,
  type Send,
} from "@resonatehq/sdk";
import { postJson } from "../remote/http-post.ts";
import type { JoinedMessageSource } from "./message-source.ts";

/**
 * The owner did not answer a request at all (refused, reset, or silent past the timeout): the request may
 * have been cut by the owner's death, so a store that changes hands asks the next owner. A
 * `ResonateTimeoutException`, which the SDK treats as a platform failure, as it does `HttpNetwork`'s.
 */
export class OwnerUnreachable extends ResonateTimeoutException {}

/** The statuses that are protocol answers; anything else is a failure, as for `HttpNetwork`. */
const PROTOCOL_STATUSES = new Set([200, 300, 404, 409, 422, 501]);

/** A Resonate `Network` to a store served on loopback. */
export class LoopbackNetwork implements Network {
  readonly unicast: string;
  readonly anycast: string;
  private readonly url: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly source: JoinedMessageSource;

  constructor(options: { url: string; token: string; timeoutMs: number; source: JoinedMessageSource }) {
    this.url = options.url;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs;
    this.source = options.source;
    this.unicast = options.source.unicast;
    this.anycast = options.source.anycast;
  }

  match(target: string): string {
    return this.source.match(target);
  }

  async init(): Promise<void> {}

  async stop(): Promise<void> {
    await this.source.stop();
  }

  recv(callback: (message: Message) => void): void {
    this.source.onReceive(callback);
  }

  readonly send: Send = (async (req: Request) => {
    let posted: Awaited<ReturnType<typeof postJson>>;
    try {
      // While the owner holds this process's message stream open it is alive, only not running (asleep,
      // stopped): a step's result waits for it rather than being lost and the step run again.
      posted = await postJson(this.url, this.token, JSON.stringify(req), this.timeoutMs, () =>
        this.source.connected(),
      );
    } catch (error) {
      throw new OwnerUnreachable(error instanceof Error ? error.message : String(error));
    }
    if (!PROTOCOL_STATUSES.has(posted.status)) throw new ResonateTimeoutException(`HTTP ${posted.status}`);
    let res: { kind?: string; head?: { corrId?: string } };
    try {
      res = JSON.parse(posted.text);
    } catch {
      throw new ResonateTimeoutException("failed to parse response JSON");
    }
    if (res.kind !== req.kind || res.head?.corrId !== req.head.corrId) {
      throw new ResonateTimeoutException("response did not match request");
    }
    return res;
  }) as Send;
}
