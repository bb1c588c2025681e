import { describe, expect, it } from "vitest";
import { PermanentError, RetryableError } from "../errors.ts";
import { backoffMs, runWithRetries, type StepRetry } from "./step-retry.ts";

const policy = { attempts: 4, initialDelayMs: 10, factor: 2, maxDelayMs: 30 };

describe("runWithRetries", () => {
  it("backs off exponentially up to the maximum", () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(policy, n))).toEqual([10, 20, 30, 30]);
  });

  it("retries until success and reports each retry with its attempt and error", async () => {
    const retries: StepRetry[] = [];
    let calls = 0;
    const value = await runWithRetries(
      "fetch",
      () => {
        calls += 1;
        if (calls < 3) throw new Error(`503 Service Unavailable #${calls}`);
        return "ok";
      },
      policy,
      { onRetry: (r) => retries.push(r) },
    );
    expect(value).toBe("ok");
    expect(retries.map((r) => [r.step, r.attempt, r.attempts, r.error])).toEqual([
      ["fetch", 1, 4, "503 Service Unavailable #1"],
      ["fetch", 2, 4, "503 Service Unavailable #2"],
    ]);
  });

  it("waits as long as a RetryableError asks, not the backoff", async () => {
    const retries: StepRetry[] = [];
    let calls = 0;
    const began = Date.now();
    await runWithRetries(
      "fetch",
      () => {
        calls += 1;
        if (calls === 1) throw new RetryableError("429", { retryAfterMs: 200 });
        return 1;
      },
      policy,
      { onRetry: (r) => retries.push(r) },
    );
    expect(Date.now() - began).toBeGreaterThanOrEqual(195);
    expect((retries[0]?.nextAttemptAt ?? 0) - began).toBeGreaterThanOrEqual(195);
  });

  it("stops at once on a PermanentError and after the last attempt", async () => {
    let calls = 0;
    await expect(
      runWithRetries(
        "s",
        () => {
          calls += 1;
          throw new PermanentError("400 bad request");
        },
        policy,
        {},
      ),
    ).rejects.toThrow("400 bad request");
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      runWithRetries(
        "s",
        () => {
          calls += 1;
          throw new Error("down");
        },
        policy,
        {},
      ),
    ).rejects.toThrow("down");
    expect(calls).toBe(4);
  });

  it("ends a retry wait when the signal aborts", async () => {
    const controller = new AbortController();
    const run = runWithRetries(
      "s",
      () => {
        throw new RetryableError("later", { retryAfterMs: 60_000 });
      },
      policy,
      { signal: controller.signal, onRetry: () => controller.abort(new Error("cancelled")) },
    );
    await expect(run).rejects.toThrow("cancelled");
  });

  it("does not retry an attempt whose signal aborted while it ran (a cancel made elsewhere)", async () => {
    const controller = new AbortController();
    let calls = 0;
    const run = runWithRetries(
      "s",
      async () => {
        calls += 1;
        controller.abort(new Error("The job was cancelled."));
        throw new Error("This operation was aborted");
      },
      policy,
      { signal: controller.signal },
    );
    await expect(run).rejects.toThrow("aborted");
    expect(calls).toBe(1);
  });
});
