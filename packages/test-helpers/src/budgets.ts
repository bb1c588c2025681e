/**
 * The time budgets of every package's tests, in one place. They are hang guards, never what a test measures:
 * a test waits on events (or polls a condition), so a passing test takes no longer for a larger budget. The
 * defaults hold on a loaded 2-core machine; `ASYNC_TOOLS_TEST_TIME_SCALE` multiplies them all (e.g. `3` on a
 * slow CI runner, `0.5` to find hangs sooner).
 */
const scale = Number(process.env.ASYNC_TOOLS_TEST_TIME_SCALE ?? "1");
if (!(scale > 0)) throw new Error("ASYNC_TOOLS_TEST_TIME_SCALE must be a positive number, e.g. 2");

/** `ms` times the configured scale. */
export function budget(ms: number): number {
  return Math.round(ms * scale);
}

/** The vitest `test` options that carry the budgets: each test, each hook, each `expect.poll`. */
export const testBudgets = {
  testTimeout: budget(120_000),
  hookTimeout: budget(60_000),
  // vitest's default is 1 s: one or two tries when each try spawns a process on a busy machine.
  expect: { poll: { timeout: budget(30_000), interval: 50 } },
};

/**
 * How long something a test expects "at once" (an exit on stdin close, a recovery, a first progress
 * notification) may take on a loaded 2-core machine: far below the timers the behaviour must not wait for
 * (a lease, a retry back-off, a keep-alive of minutes), far above a scheduler's hiccup.
 */
export const AT_ONCE_MS = budget(5_000);
