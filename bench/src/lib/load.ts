/**
 * The machine's load while a scenario runs. A figure measured while other work competes for the cores is not
 * one another person can reproduce, so the harness samples the load average during each scenario and refuses
 * to call a target "met" when the load exceeded the number of cores.
 */
import { availableParallelism, loadavg } from "node:os";

/** How often the load average is read while a scenario runs. */
export const LOAD_SAMPLE_MS = 1_000;

/** The load a scenario ran at: the 1-minute load average at its start, its end, and the highest seen. */
export interface LoadRecord {
  start: number;
  end: number;
  max: number;
  cores: number;
  /** The highest 1-minute load average exceeded the number of cores: its targets are not judged. */
  busy: boolean;
}

/** Starts sampling; `stop()` returns what was seen. `limit` is the load above which the machine is busy. */
export function watchLoad(limit = availableParallelism()): { stop(): LoadRecord } {
  const start = loadavg()[0] ?? 0;
  let max = start;
  const timer = setInterval(() => {
    max = Math.max(max, loadavg()[0] ?? 0);
  }, LOAD_SAMPLE_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const end = loadavg()[0] ?? 0;
      max = Math.max(max, end);
      const round = (n: number) => Math.round(n * 100) / 100;
      return { start: round(start), end: round(end), max: round(max), cores: limit, busy: max > limit };
    },
  };
}
