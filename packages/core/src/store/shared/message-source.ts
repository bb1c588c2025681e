/**
 * The message stream of a process that joined a store: an SSE client of `GET /poll/{group}/{pid}` that,
 * unlike the SDK's `PollMessageSource`, says at once when the stream drops (the owner died) instead of
 * retrying with a backoff, so the joiner can take the store over within a second; it also carries the store's
 * change feed.
 */
import type { HttpAdapter, Message } from "@resonatehq/sdk";
import { log } from "../../internal/log.ts";
import { changeFrom } from "../change-feed.ts";
import { CHANGES_EVENT } from "../protocol.ts";
import type { ChangedJobs, JobChange } from "../store.ts";

/** Options of {@link JoinedMessageSource}. */
export interface JoinedMessageSourceOptions {
  /** Base URL of the served store. */
  url: string;
  token: string;
  group: string;
  pid: string;
  /** Called once when the stream ends or fails after it opened (not after {@link JoinedMessageSource.stop}). */
  onDrop: () => void;
  /** Called with each change of the store's change feed the owner relays. */
  onChanges?: (changed: ChangedJobs) => void;
}

/** An `HttpAdapter` over one SSE stream that reports its end. */
export class JoinedMessageSource implements HttpAdapter {
  readonly unicast: string;
  readonly anycast: string;
  private readonly options: JoinedMessageSourceOptions;
  private readonly controller = new AbortController();
  private callbacks: ((message: Message) => void)[] = [];
  private stopped = false;

  constructor(options: JoinedMessageSourceOptions) {
    this.options = options;
    this.unicast = `poll://uni@${options.group}/${options.pid}`;
    this.anycast = `poll://any@${options.group}/${options.pid}`;
  }

  match(target: string): string {
    return `poll://any@${target}`;
  }

  /**
   * Opens the stream; resolves once the owner accepted it.
   *
   * @throws Error when the owner does not answer or refuses the stream.
   */
  async open(timeoutMs: number): Promise<void> {
    const { url, token, group, pid } = this.options;
    // The timeout covers the answer's headers only: the stream itself stays open for the process's life.
    const timer = setTimeout(
      () => this.controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let response: Response;
    try {
      response = await fetch(
        `${url}/poll/${encodeURIComponent(group)}/${encodeURIComponent(pid)}?changes=1&what=1`,
        {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          signal: this.controller.signal,
        },
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`the store refused the message stream (HTTP ${response.status})`);
    }
    void this.read(response.body);
  }

  async init(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
  }

  /** Whether the stream is open: the owner lives (a dead process's sockets close with it). */
  connected(): boolean {
    return !this.stopped;
  }

  onReceive(callback: (message: Message) => void): void {
    this.callbacks.push(callback);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          this.event(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // A dropped stream is reported below, whatever the reason.
    }
    if (!this.stopped) {
      this.stopped = true;
      this.options.onDrop();
    }
  }

  private event(block: string): void {
    const lines = block.split("\n");
    const data = lines
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data === "") return;
    if (lines.includes(`event: ${CHANGES_EVENT}`)) {
      try {
        this.options.onChanges?.(changesSent(JSON.parse(data)));
      } catch (error) {
        log("warn", "unreadable change notice from the store", { error });
      }
      return;
    }
    let message: Message;
    try {
      message = JSON.parse(data) as Message;
    } catch (error) {
      log("warn", "unreadable message from the store", { error });
      return;
    }
    for (const callback of this.callbacks) callback(message);
  }
}

/**
 * The changes the owner relayed: `{id, what, principal}` each, or the jobs' IDs alone (an owner of an older
 * async-tools); `"any"` for `"any"` or what is neither.
 */
function changesSent(sent: unknown): ChangedJobs {
  if (!Array.isArray(sent)) return "any";
  const changes = sent.map(changeFrom);
  return changes.some((change) => change === undefined) ? "any" : (changes as JobChange[]);
}
