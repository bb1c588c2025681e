/**
 * Progress notifications of a blocking await that hosts can draw: `progress` out of `total` from the jobs'
 * real fractions (a finished job counts 1), sent when it changes (at most once per tick) and repeated as a
 * keep-alive when nothing changed for a while, so hosts that reset their timeout on progress keep waiting.
 */
import { DEFAULTS } from "../defaults.ts";
import { isUnfinished, type JobSnapshot } from "../runtime/job.ts";
import { describeLine } from "./text.ts";
import type { ProgressUpdate } from "./tools/spec.ts";

export class ProgressReporter {
  private readonly send: (update: ProgressUpdate) => void;
  private readonly keepAliveMs: number;
  private last = -1;
  private lastSentAt = 0;

  constructor(send: (update: ProgressUpdate) => void, keepAliveMs: number = DEFAULTS.progressKeepAliveMs) {
    this.send = send;
    this.keepAliveMs = keepAliveMs;
  }

  /** Looks at the jobs' current state and sends a notification when it is due. */
  tick(snapshots: readonly JobSnapshot[], now = Date.now()): void {
    const done = snapshots.filter((s) => !isUnfinished(s.status)).length;
    const sum = snapshots.reduce(
      (acc, s) => acc + (isUnfinished(s.status) ? (s.progress?.fraction ?? 0) : 1),
      0,
    );
    // Progress must never go back, even if a job reports a lower fraction after a restart.
    const progress = Math.max(this.last, Math.round(sum * 1000) / 1000);
    const changed = progress > this.last;
    if (!changed && now - this.lastSentAt < this.keepAliveMs) return;
    this.last = progress;
    this.lastSentAt = now;
    const working = snapshots.filter((s) => isUnfinished(s.status));
    const message =
      `${done} of ${snapshots.length} jobs done` +
      (working.length > 0 ? `; ${working.slice(0, 5).map(describeLine).join("; ")}` : "");
    this.send({ progress, total: snapshots.length, message });
  }
}
