import { afterEach, describe, expect, it, vi } from "vitest";
import { enabled, formatLine, log } from "./log.ts";

const at = new Date("2026-01-02T03:04:05.678Z");

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe("formatLine", () => {
  it("writes a readable text line: time, level, message, then key=value fields, quoting what needs it", () => {
    const line = formatLine("text", at, "warn", "step retried", {
      job: "flaky-1",
      tool: "flaky",
      step: "fetch",
      attempt: "1/5",
      error: new Error('503 "busy"'),
      nextInMs: 1000,
      skipped: undefined,
    });
    expect(line).toBe(
      '2026-01-02T03:04:05.678Z WARN  async-tools step retried job=flaky-1 tool=flaky step=fetch attempt=1/5 error="503 \\"busy\\"" nextInMs=1000',
    );
  });

  it("writes one JSON object per line with time, level, msg and the fields, errors as their message", () => {
    const line = formatLine("json", at, "info", "job completed", {
      job: "a",
      tool: "t",
      durationMs: 12,
      error: new Error("no stack"),
      nothing: undefined,
    });
    expect(JSON.parse(line)).toEqual({
      time: "2026-01-02T03:04:05.678Z",
      level: "info",
      msg: "job completed",
      job: "a",
      tool: "t",
      durationMs: 12,
      error: "no stack",
    });
    expect(line).not.toContain("\n");
  });
});

describe("log", () => {
  it("writes info and above by default, to stderr only", () => {
    vi.stubEnv("ASYNC_TOOLS_LOG", undefined as unknown as string);
    const stdout = vi.spyOn(process.stdout, "write");
    const lines = captureStderr();
    log("debug", "hidden");
    log("info", "shown");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+Z INFO {2}async-tools shown\n$/);
    expect(stdout).not.toHaveBeenCalled();
  });

  it("follows ASYNC_TOOLS_LOG (debug, warn, silent) and ASYNC_TOOLS_LOG_FORMAT=json", () => {
    vi.stubEnv("ASYNC_TOOLS_LOG", "warn");
    expect([enabled("info"), enabled("warn"), enabled("error")]).toEqual([false, true, true]);
    vi.stubEnv("ASYNC_TOOLS_LOG", "DEBUG");
    expect(enabled("debug")).toBe(true);
    vi.stubEnv("ASYNC_TOOLS_LOG", "silent");
    expect(enabled("error")).toBe(false);
    vi.stubEnv("ASYNC_TOOLS_LOG", "info");
    vi.stubEnv("ASYNC_TOOLS_LOG_FORMAT", "json");
    const lines = captureStderr();
    log("info", "job started", { job: "j", tool: "t" });
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: "info",
      msg: "job started",
      job: "j",
      tool: "t",
    });
  });
});
