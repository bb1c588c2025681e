/**
 * Stalls: a process that could not run for a while (stopped, asleep, its event loop blocked) sent no heartbeat,
 * so by the wall clock every lease it holds would have lapsed and a task still running here would be handed out
 * again. The timeout loop measures the time lost and gives it to every lease before it checks timeouts.
 */
import type { Change, ProtocolServer } from "./sdk-internals.ts";

/**
 * How late a timeout tick may come before the time it lost is granted to every lease: lateness the event loop
 * has under ordinary load is covered by heartbeats (at half the lease); a stopped or sleeping process is not.
 */
export const STALL_GRANT_MIN_MS = 250;
/** A stall this long (a pause, not load) is logged at `info`; shorter ones at `debug`. */
export const STALL_INFO_MS = 5000;

/** The time lost between ticks of the timeout loop. */
export class StallWatch {
  private readonly tickMs: number;
  private lastTick: { wall: number; mono: number } | undefined;

  /** `tickMs` is the loop's interval. */
  constructor(tickMs: number) {
    this.tickMs = tickMs;
  }

  /** The loop starts at `now`. */
  started(now: number): void {
    this.lastTick = { wall: now, mono: performance.now() };
  }

  /**
   * How long this process could not run before this tick at `now`, in ms; 0 under {@link STALL_GRANT_MIN_MS}.
   * It is how much later than its interval this tick came, by the monotonic clock (a stopped or blocked
   * process) or by the wall clock (a machine asleep: the monotonic clock stood still), whichever is larger.
   */
  stalled(now: number): number {
    const mono = performance.now();
    const last = this.lastTick;
    this.lastTick = { wall: now, mono };
    if (last === undefined) return 0;
    const stalled = Math.max(now - last.wall, mono - last.mono) - this.tickMs;
    return stalled >= STALL_GRANT_MIN_MS ? stalled : 0;
  }
}

/** Extends every acquired task's lease in `server` by `stalled` ms; returns the changed timeouts to persist. */
export function extendLeases(server: ProtocolServer, stalled: number): Change[] {
  const changes: Change[] = [];
  for (const timeout of server.tTimeouts) {
    if (timeout.type !== 1 || server.tasks.get(timeout.id)?.state !== "acquired") continue;
    timeout.timeout += stalled;
    changes.push({ kind: "ttimeout.set", timeout: { ...timeout } });
  }
  return changes;
}
