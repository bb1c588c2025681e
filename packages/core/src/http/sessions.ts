/**
 * Stateful mode's sessions: each holds an MCP channel in memory, so they are bounded twice, by count (the
 * least recently used is closed to make room) and by idleness (a session with no request for a while is
 * closed). A closed session's ID is simply unknown: its next request gets 404, and the client starts anew.
 */
import { log } from "../internal/log.ts";
import type { McpChannel } from "../mcp/http-channel.ts";

/** One session: its channel, its owner, and when it was last used. */
export interface Session {
  id: string;
  channel: McpChannel;
  /** The principal that opened it; requests of another principal do not find it. */
  principal: string | undefined;
  lastUsed: number;
  /** Requests in flight (an open GET stream counts): such a session is not idle. */
  active: number;
}

/** Bounds of a {@link SessionTable}. */
export interface SessionLimits {
  maxSessions: number;
  idleMs: number;
}

/** The open sessions, least recently used first. */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private readonly limits: SessionLimits;
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(limits: SessionLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
    // Idle sessions are found by a sweep, so an abandoned session is freed even when no request ever comes.
    const every = Math.min(Math.max(limits.idleMs / 4, 1000), 60_000);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session `id` if it is open and `principal` owns it; marks it used. */
  get(id: string, principal: string | undefined): Session | undefined {
    const session = this.sessions.get(id);
    if (session === undefined || session.principal !== principal) return undefined;
    // Re-insert: Map keeps insertion order, so the first entry is always the least recently used.
    this.sessions.delete(id);
    session.lastUsed = this.now();
    this.sessions.set(id, session);
    return session;
  }

  /** Adds a session, first closing the least recently used ones past the cap. */
  add(session: Session): void {
    this.sweep();
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.values().next().value;
      if (oldest === undefined) break;
      log("info", "session closed: the session cap was reached", { session: oldest.id });
      this.close(oldest.id);
    }
    this.sessions.set(session.id, session);
  }

  /** Forgets session `id` and closes its channel. */
  close(id: string): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    void session.channel.close().catch(() => undefined);
  }

  /** Closes sessions idle past the limit. */
  sweep(): void {
    const cutoff = this.now() - this.limits.idleMs;
    for (const session of [...this.sessions.values()]) {
      if (session.active === 0 && session.lastUsed <= cutoff) {
        log("debug", "session closed: idle", { session: session.id });
        this.close(session.id);
      }
    }
  }

  /** Closes every session and stops the sweep. */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((session) => session.channel.close().catch(() => undefined)));
  }
}
