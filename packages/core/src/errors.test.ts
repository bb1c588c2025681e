import { describe, expect, it } from "vitest";
import { RetryableError } from "./errors.ts";

describe("RetryableError", () => {
  it("waits the milliseconds it is given", () => {
    expect(new RetryableError("busy", { retryAfterMs: 1500 }).retryAfterMs).toBe(1500);
  });

  it("reads a Retry-After header of delay-seconds", () => {
    expect(new RetryableError("rate limited", { retryAfter: "120" }).retryAfterMs).toBe(120_000);
    expect(new RetryableError("rate limited", { retryAfter: " 0 " }).retryAfterMs).toBe(0);
  });

  it("reads a Retry-After header of an HTTP date, and a Date, as the time until then", () => {
    const inAMinute = new Date(Date.now() + 60_000);
    const fromHeader = new RetryableError("later", { retryAfter: inAMinute.toUTCString() }).retryAfterMs;
    // An HTTP date has whole seconds: up to one second less than a minute, never more.
    expect(fromHeader).toBeGreaterThan(58_000);
    expect(fromHeader).toBeLessThanOrEqual(60_000);
    const fromDate = new RetryableError("later", { retryAfter: inAMinute }).retryAfterMs;
    expect(fromDate).toBeGreaterThan(58_000);
    expect(fromDate).toBeLessThanOrEqual(60_000);
  });

  it("retries at once for a time already past", () => {
    expect(new RetryableError("now", { retryAfter: new Date(Date.now() - 5000) }).retryAfterMs).toBe(0);
    expect(new RetryableError("now", { retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT" }).retryAfterMs).toBe(0);
  });

  it("keeps the policy's backoff for a missing or unreadable value", () => {
    expect(new RetryableError("busy").retryAfterMs).toBeUndefined();
    expect(new RetryableError("busy", { retryAfter: null }).retryAfterMs).toBeUndefined();
    expect(new RetryableError("busy", { retryAfter: "soon" }).retryAfterMs).toBeUndefined();
    expect(new RetryableError("busy", { retryAfter: "-3" }).retryAfterMs).toBeUndefined();
    expect(new RetryableError("busy", { retryAfter: new Date(Number.NaN) }).retryAfterMs).toBeUndefined();
    expect(new RetryableError("busy", { retryAfterMs: -1 }).retryAfterMs).toBeUndefined();
  });

  it("prefers retryAfterMs when both are given", () => {
    expect(new RetryableError("busy", { retryAfterMs: 10, retryAfter: "120" }).retryAfterMs).toBe(10);
  });
});
