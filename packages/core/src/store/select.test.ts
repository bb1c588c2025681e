import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@async-tools/test-helpers/net";
import { describe, expect, it } from "vitest";
import { AsyncToolsError } from "../errors.ts";
import { createAsyncTools } from "../runtime/runtime.ts";
import { defaultStorePath, parseStore } from "./select.ts";

describe("choosing a store", () => {
  it("reads every accepted form", () => {
    expect(parseStore("memory")).toEqual({ kind: "memory" });
    expect(parseStore("sqlite:./x/jobs.db")).toEqual({ kind: "sqlite", path: resolve("x/jobs.db") });
    expect(parseStore("sqlite:///tmp/jobs.db")).toEqual({ kind: "sqlite", path: "/tmp/jobs.db" });
    expect(parseStore("/tmp/jobs.db")).toEqual({ kind: "sqlite", path: "/tmp/jobs.db" });
    expect(parseStore("~/jobs.db")).toEqual({ kind: "sqlite", path: join(homedir(), "jobs.db") });
    expect(parseStore("file:///tmp/a.db")).toEqual({ kind: "sqlite", path: "/tmp/a.db" });
    expect(parseStore("http://127.0.0.1:8001/")).toEqual({ kind: "http", url: "http://127.0.0.1:8001" });
    expect(parseStore("https://resonate.example")).toEqual({ kind: "http", url: "https://resonate.example" });
    expect(parseStore("postgres://u:p@db/x")).toEqual({ kind: "postgres", url: "postgres://u:p@db/x" });
  });

  it("falls back to ASYNC_TOOLS_STORE, then RESONATE_URL, then the user data directory", () => {
    expect(parseStore(undefined, { ASYNC_TOOLS_STORE: "memory" })).toEqual({ kind: "memory" });
    expect(parseStore(undefined, { RESONATE_URL: "http://h:8001" })).toEqual({
      kind: "http",
      url: "http://h:8001",
    });
    expect(parseStore(undefined, { XDG_DATA_HOME: "/data" })).toEqual({
      kind: "sqlite",
      path: "/data/async-tools/jobs.db",
    });
    expect(defaultStorePath({ XDG_DATA_HOME: "/d" })).toBe("/d/async-tools/jobs.db");
  });

  it("derives the default file from the server's name, so different servers get different stores", () => {
    expect(defaultStorePath({ XDG_DATA_HOME: "/d" }, "weather")).toBe("/d/async-tools/weather/jobs.db");
    expect(defaultStorePath({ XDG_DATA_HOME: "/d" }, "my server/../x")).toBe(
      "/d/async-tools/my-server-..-x/jobs.db",
    );
    expect(parseStore(undefined, { XDG_DATA_HOME: "/d" }, "a")).toEqual({
      kind: "sqlite",
      path: "/d/async-tools/a/jobs.db",
    });
  });

  it("runs two differently named servers on default settings side by side, each owning its store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-default-"));
    const saved = process.env.XDG_DATA_HOME;
    process.env.XDG_DATA_HOME = dir;
    try {
      await using first = await createAsyncTools({ name: "first-server", tools: [] });
      await using second = await createAsyncTools({ name: "second-server", tools: [] });
      expect(first.store.description).toBe(`sqlite:${join(dir, "async-tools", "first-server", "jobs.db")}`);
      expect(second.store.description).toBe(`sqlite:${join(dir, "async-tools", "second-server", "jobs.db")}`);
      expect([first.store.role, second.store.role]).toEqual(["owner", "owner"]);
    } finally {
      if (saved === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses unknown forms with a message listing the accepted ones", () => {
    for (const bad of ["ftp://x", "redis://localhost", "sqlite:", "mongo:foo"]) {
      const attempt = () => parseStore(bad);
      expect(attempt).toThrow(AsyncToolsError);
      expect(attempt).toThrow(/Accepted forms: sqlite:<path>.*memory.*http\(s\).*postgres/);
    }
  });

  it("hides a password in messages", () => {
    expect(() => parseStore("ftp://user:hunter2@host")).toThrow(/user:\*\*\*@host/);
  });

  it("fails fast and clearly when a Resonate Server does not answer", async () => {
    const port = await freePort();
    const began = Date.now();
    const attempt = createAsyncTools({ store: `http://127.0.0.1:${port}`, tools: [] });
    await expect(attempt).rejects.toMatchObject({ code: "STORE_UNREACHABLE" });
    await expect(attempt).rejects.toThrow(`127.0.0.1:${port}`);
    expect(Date.now() - began).toBeLessThan(6000);
  });

  it("fails fast and clearly when Postgres cannot be used", async () => {
    const port = await freePort();
    const attempt = createAsyncTools({ store: `postgres://u:secret@127.0.0.1:${port}/resonate`, tools: [] });
    await expect(attempt).rejects.toMatchObject({ code: "STORE_UNREACHABLE" });
    await expect(attempt).rejects.not.toThrow(/secret/);
  });
});
