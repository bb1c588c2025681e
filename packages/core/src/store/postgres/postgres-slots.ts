/**
 * A tool's `concurrency` across every replica of a Postgres store (migration 0006): a job claims a slot row
 * under an advisory lock of its tool and runs when the claim says so; otherwise it waits, asking again every
 * `pollMs` or at once when a job of this process releases one. Slot rows belong to a replica's presence, so a
 * dead replica's slots are free once it is found dead (the takeover bound, not the lease).
 */
import { log } from "../../internal/log.ts";
import type { ToolSlots } from "../tool-slots.ts";
import type { PgPool } from "./postgres-index.ts";

/** The slots of one tool in `async_tools.slots`. */
export class PostgresSlots implements ToolSlots {
  private readonly pool: PgPool;
  private readonly pid: string;
  private readonly tool: string;
  private readonly limit: number;
  private readonly pollMs: number;
  /** Jobs of this process waiting, with their last known place and how to make them ask again now. */
  private readonly waiting = new Map<string, { place: number; wake: () => void }>();
  /** Claims sent and not answered yet: a place asked for meanwhile is the claim's answer, not another query. */
  private readonly claiming = new Map<string, Promise<number>>();
  /** Jobs of this process holding a slot: not waiting, no need to ask the database. */
  private readonly holding = new Set<string>();
  /** Releases sent and not answered yet. */
  private readonly freeing = new Set<Promise<void>>();
  private closed = false;

  constructor(pool: PgPool, options: { pid: string; tool: string; limit: number; pollMs: number }) {
    this.pool = pool;
    this.pid = options.pid;
    this.tool = options.tool;
    this.limit = options.limit;
    this.pollMs = options.pollMs;
  }

  async acquire(id: string, signal?: AbortSignal): Promise<() => void> {
    try {
      for (;;) {
        signal?.throwIfAborted();
        const place = await this.claim(id);
        if (place === 0) return this.releaser(id);
        await this.wait(id, place, signal);
      }
    } catch (error) {
      this.waiting.delete(id);
      this.free(id);
      throw error;
    }
  }

  position(id: string): number | undefined | Promise<number | undefined> {
    const mine = this.waiting.get(id);
    if (mine !== undefined) return mine.place;
    if (this.holding.has(id)) return undefined;
    const claim = this.claiming.get(id);
    if (claim !== undefined) return claim.then((place) => (place === 0 ? undefined : place));
    return this.pool
      .query<{ place: number | null }>("SELECT async_tools.slot_place($1) AS place", [id])
      .then(({ rows }) => rows[0]?.place ?? undefined);
  }

  /** 0 when the slot is ours; a place in line; or, when the database does not answer, the last place known. */
  private async claim(id: string): Promise<number> {
    const sent = this.sendClaim(id);
    this.claiming.set(id, sent);
    try {
      return await sent;
    } finally {
      this.claiming.delete(id);
    }
  }

  private async sendClaim(id: string): Promise<number> {
    try {
      const { rows } = await this.pool.query<{ place: number }>(
        "SELECT async_tools.slot_claim($1, $2, $3, $4) AS place",
        [this.tool, id, this.pid, this.limit],
      );
      return Number(rows[0]?.place ?? 0);
    } catch (error) {
      log("warn", "concurrency slot not claimed; asking again", { tool: this.tool, job: id, error });
      return this.waiting.get(id)?.place ?? 1;
    }
  }

  private wait(id: string, place: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", aborted);
        resolve();
      };
      const aborted = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(done, this.pollMs);
      signal?.addEventListener("abort", aborted, { once: true });
      this.waiting.set(id, { place, wake: done });
    });
  }

  /**
   * Waits for the releases sent so far; later ones are not sent, since the replica's close frees all its slots
   * at once (`async_tools.replica_gone`).
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.freeing);
  }

  private free(id: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const sent = this.pool
      .query("SELECT async_tools.slot_release($1, $2)", [id, this.pid])
      .then(
        () => undefined,
        (error: unknown) => log("warn", "concurrency slot not released", { tool: this.tool, job: id, error }),
      )
      .finally(() => this.freeing.delete(sent));
    this.freeing.add(sent);
    return sent;
  }

  private releaser(id: string): () => void {
    this.waiting.delete(id);
    this.holding.add(id);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holding.delete(id);
      // The jobs of this process waiting ask again as soon as the slot is free, not at their next poll.
      void this.free(id).then(() => {
        for (const entry of this.waiting.values()) entry.wake();
      });
    };
  }
}
