/**
 * Timing helpers: sleeps, deadlines that bound every loop in time, and a bounded poll.
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A point in time `ms` from now; `passed()` tells whether it has come. */
export function deadline(ms: number): { passed(): boolean; left(): number } {
  const at = performance.now() + ms;
  return { passed: () => performance.now() >= at, left: () => Math.max(0, at - performance.now()) };
}

/**
 * Calls `check` every `everyMs` until it returns a value other than `undefined`, at most for `timeoutMs`.
 * Returns that value, or `undefined` on time-out.
 */
export async function pollUntil<T>(
  check: () => T | undefined,
  timeoutMs: number,
  everyMs = 5,
): Promise<T | undefined> {
  const until = deadline(timeoutMs);
  for (let i = 0; i < 1_000_000; i++) {
    const value = check();
    if (value !== undefined) return value;
    if (until.passed()) return undefined;
    await sleep(everyMs);
  }
  return undefined;
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const began = performance.now();
  await fn();
  return performance.now() - began;
}
