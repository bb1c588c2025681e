import { execFile, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("the unit project's setup", () => {
  it("refuses to start a child process, naming the list that moves the test to integration", () => {
    expect(() => spawn(process.execPath, ["-e", ""])).toThrow(/BESIDE_SOURCE_NOT_UNIT/);
    expect(() => execFile(process.execPath, ["--version"])).toThrow(/BESIDE_SOURCE_NOT_UNIT/);
  });
});
