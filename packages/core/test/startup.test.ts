/**
 * What a server loads before its first answer, which every host pays on every spawn (issue 16). Checked by
 * what loads, never by time: timing tests flake on a busy machine, and the bench measures the time.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { childEnv } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";

const PROBE = join(import.meta.dirname, "fixtures", "startup-probe.ts");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("start-up", () => {
  it("opens an embedded store and registers the tools without loading undici", async () => {
    // An ES import of node:http builds a module view that reads every export, and node:http's WebSocket
    // family getters then load all of undici: about 35 ms of a cold start, for nothing the store needs.
    const dir = mkdtempSync(join(tmpdir(), "async-tools-startup-"));
    dirs.push(dir);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--conditions=@async-tools/source", PROBE, `sqlite:${join(dir, "jobs.db")}`],
      { env: childEnv({ ASYNC_TOOLS_LOG: "warn" }) },
    );
    expect(JSON.parse(stdout)).toEqual({ role: "owner", undici: false });
  });
});
