/**
 * Retrying one durable step in process: exponential backoff from the tool's policy, the delay an upstream asks
 * for through {@link RetryableError}, no retry after {@link PermanentError}, and a report of every retry so
 * probe, tasks and logs can show it. A crash forgets the count: the step starts again from attempt one.
 */
import type { AsyncTool } from "../define.ts";
import { PermanentError, RetryableError } from "../errors.ts";

/** A retry about to happen, or the last failure. */
export interface StepRetry {
  step: string;
  /** The attempt that failed, 1-based. */
  attempt: number;
  attempts: number;
  error: string;
  /** When the next attempt starts, epoch ms. */
  nextAttemptAt: number;
}

/** The delay before attempt `attempt + 1`, from the policy alone. */
export function backoffMs(policy: AsyncTool["retry"], attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
}

/** Short, single-line text of an error, for status messages and logs. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/\s+/g, " ").slice(0, 300);
}

/**
 * Runs `fn` until it succeeds, throws {@link PermanentError}, or uses up `policy.attempts`. `onRetry` hears of
 * each retry before its delay; a `signal` abort ends the wait and throws its reason.
 */
export async function runWithRetries<T>(
  step: string,
  fn: () => T | Promise<T>,
  policy: AsyncTool["retry"],
  hooks: { signal?: AbortSignal; onRetry?: (retry: StepRetry) => void },
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof PermanentError || attempt >= policy.attempts || hooks.signal?.aborted) throw error;
      const asked = error instanceof RetryableError ? error.retryAfterMs : undefined;
      const delay = asked ?? backoffMs(policy, attempt);
      hooks.onRetry?.({
        step,
        attempt,
        attempts: policy.attempts,
        error: errorText(error),
        nextAttemptAt: Date.now() + delay,
      });
      await sleep(delay, hooks.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
