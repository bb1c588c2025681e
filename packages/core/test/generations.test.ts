/**
 * One definition (the example's `tally`), two faces: the v1 face driven by a v1 Client and the v2 face
 * driven by a v2 Client (2026-07-28, negotiated with `server/discover`), each over stdio with a real
 * server process and a real SQLite store, must give the same tools and the same answers.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, NODE_ARGS, sideEffectCounts } from "@async-tools/test-helpers/children";
import { structured, textOf } from "@async-tools/test-helpers/mcp";
import { describe, expect, it } from "vitest";
import { type Connection, connectV1, connectV2, type ListedTool, scratch, V2_SERVER } from "./stdio-rig.ts";

interface Receipt {
  job_id: string;
  status: string;
  created: boolean;
}

/**
 * The parts of a listed tool that both generations must agree on. Each SDK stamps the JSON Schema dialect it
 * converts zod to (v1: draft-07, v2: 2020-12) as `$schema`; everything under it must be the same.
 */
function shape(tool: ListedTool) {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: withoutDialect(tool.inputSchema),
    outputSchema: withoutDialect(tool.outputSchema),
    annotations: tool.annotations,
  };
}

function withoutDialect(schema: unknown): unknown {
  if (schema === undefined) return undefined;
  const { $schema, ...rest } = schema as { $schema?: string };
  expect($schema).toMatch(/^https?:\/\/json-schema\.org\/(draft-07\/schema#|draft\/2020-12\/schema)$/);
  return rest;
}

const generations: [string, (env: Record<string, string>) => Promise<Connection>][] = [
  ["v1 (SDK 1.x, 2025-11-25)", connectV1],
  ["v2 (SDK 2.x, 2026-07-28)", (env) => connectV2(env)],
];

describe("the same definition on both SDK generations", () => {
  it("lists the same tools, with the same schemas", async () => {
    const { store } = scratch();
    const v1 = await connectV1({ ASYNC_TOOLS_STORE: store });
    const v1Tools = (await v1.listTools()).map(shape);
    await v1.close();
    const v2 = await connectV2({ ASYNC_TOOLS_STORE: store });
    const v2Tools = (await v2.listTools()).map(shape);
    expect(v2.client.getProtocolEra()).toBe("modern");
    expect(v1Tools.map((t) => t.name)).toEqual([
      "start_tally",
      "probe_tally",
      "await_tally",
      "cancel_tally",
      "tally",
    ]);
    expect(v2Tools).toEqual(v1Tools);
  });

  it("answers bad input with a tool error naming the same fields and problems (framed by each SDK)", async () => {
    const { store } = scratch();
    const texts: string[][] = [];
    for (const [, connect] of generations) {
      const c = await connect({ ASYNC_TOOLS_STORE: store });
      const answers = await Promise.all([
        c.call("start_tally", { numbers: [] }),
        c.call("start_tally", { numbers: "1,2", label: 5 }),
        c.call("start_tally", {}),
        c.call("probe_tally", { job_ids: 42 }),
        c.call("await_tally", { job_ids: ["tally-x"], timeout_seconds: -1 }),
      ]);
      for (const answer of answers) expect(answer.isError).toBe(true);
      texts.push(answers.map(textOf));
      await c.close();
    }
    // Each SDK words the frame of its validation error (docs/api.md, "Tool results"): v1 `MCP error -32602: …`
    // with one `<problem> at <field>` per line, v2 `<field>: <problem>` joined by commas. The problems are
    // zod's, the same on both.
    const [v1, v2] = texts as [string[], string[]];
    v1.forEach((v1Text, index) => {
      const v2Text = v2[index] as string;
      const [, tool, issues] = /Invalid arguments for tool (\S+): ([\s\S]*)$/.exec(v1Text) ?? [];
      expect(v2Text).toContain(`Input validation error: Invalid arguments for tool ${tool}: `);
      for (const line of (issues ?? "").split("\n")) {
        const [, problem, field] = /^(.*) at (\S+)$/.exec(line) ?? [];
        expect(v2Text).toContain(`${field}: ${problem}`);
      }
    });
  }, 120_000);
});

describe.each(generations)("%s", (_name, connect) => {
  it("starts a job, probes it, awaits its result, and runs the work once for the same arguments", async () => {
    const { store, log } = scratch();
    const c = await connect({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "300" });
    const started = await Promise.all([
      c.call("start_tally", { numbers: [1, 2, 3] }),
      c.call("start_tally", { label: "total", numbers: [1, 2, 3] }),
    ]);
    const receipts = started.map((r) => structured<Receipt>(r));
    expect(receipts[0]?.job_id).toMatch(/^tally-[0-9a-f]{16}$/);
    expect(new Set(receipts.map((r) => r.job_id)).size).toBe(1);
    expect(receipts.filter((r) => r.created)).toHaveLength(1);
    const id = receipts[0]?.job_id as string;

    const probed = structured<{ jobs: { job_id: string; status: string }[] }>(
      await c.call("probe_tally", { job_ids: [id] }),
    );
    expect(probed.jobs[0]?.job_id).toBe(id);
    expect(["queued", "working", "completed"]).toContain(probed.jobs[0]?.status);

    const awaited = structured<{ done: boolean; jobs: { status: string; result?: unknown }[] }>(
      await c.call("await_tally", { job_ids: [id], timeout_seconds: 20 }),
    );
    expect(awaited.done).toBe(true);
    expect(awaited.jobs[0]).toMatchObject({
      status: "completed",
      result: { label: "total", count: 3, sum: 6 },
    });

    const again = structured<Receipt>(await c.call("start_tally", { numbers: [1, 2, 3] }));
    expect(again).toMatchObject({ job_id: id, created: false, status: "completed" });
    expect(sideEffectCounts(log).get(`${id} sum`)).toBe(1);
  });

  it("cancels a running job", async () => {
    const { store } = scratch();
    const c = await connect({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "60000" });
    const { job_id } = structured<Receipt>(await c.call("start_tally", { numbers: [5] }));
    const cancelled = structured<{ jobs: { status: string }[] }>(
      await c.call("cancel_tally", { job_ids: [job_id] }),
    );
    expect(cancelled.jobs[0]?.status).toBe("cancelled");
    const probed = structured<{ jobs: { status: string }[] }>(
      await c.call("probe_tally", { job_ids: [job_id] }),
    );
    expect(probed.jobs[0]?.status).toBe("cancelled");
  });

  it("answers bad input with a tool error, not a protocol error", async () => {
    const { store } = scratch();
    const c = await connect({ ASYNC_TOOLS_STORE: store });
    const bad = await c.call("start_tally", { numbers: [] });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/numbers/);
  });

  it("answers an unknown ID with a not_found entry, alone or beside a known one, on probe, await and cancel", async () => {
    const { store } = scratch();
    const c = await connect({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "60000" });
    const { job_id } = structured<Receipt>(await c.call("start_tally", { numbers: [7] }));
    for (const tool of ["probe_tally", "await_tally", "cancel_tally"]) {
      for (const ids of [["tally-nope"], [job_id, "tally-nope"]]) {
        const args = tool === "await_tally" ? { job_ids: ids, timeout_seconds: 0 } : { job_ids: ids };
        const answer = await c.call(tool, args);
        const jobs = structured<{ jobs: { job_id: string; status: string }[] }>(answer).jobs;
        expect(jobs.at(-1), `${tool} ${ids.join(",")}`).toMatchObject({
          job_id: "tally-nope",
          status: "not_found",
        });
        expect(textOf(answer)).toContain("No job found for tally-nope");
      }
    }
  });
});

describe("the v2 face", () => {
  it("answers a discovery probe without opening the store, and exits when stdin closes", async () => {
    const { dir } = scratch();
    const file = join(dir, "jobs.db");
    const child = spawn(process.execPath, [...NODE_ARGS, V2_SERVER], {
      env: childEnv({ ASYNC_TOOLS_STORE: `sqlite:${file}` }),
      stdio: ["pipe", "pipe", "ignore"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const envelope = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "probe", version: "0" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const discover = { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: envelope } };
    child.stdin.write(`${JSON.stringify(discover)}\n`);
    await expect.poll(() => out.includes("\n")).toBe(true);
    const answer = JSON.parse(out.split("\n")[0] as string);
    expect(answer.result.supportedVersions).toContain("2026-07-28");
    expect(answer.result.capabilities.extensions).toEqual({ "io.modelcontextprotocol/tasks": {} });
    child.stdin.end();
    expect(await exited).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  it("serves a v2 Client that speaks only 2025-11-25 (legacy mode), and frees the store when stdin closes", async () => {
    const { store } = scratch();
    const c = await connectV2({ ASYNC_TOOLS_STORE: store }, { mode: "legacy" });
    expect(c.client.getProtocolEra()).toBe("legacy");
    const { job_id } = structured<Receipt>(await c.call("start_tally", { numbers: [4, 5] }));
    const awaited = structured<{ jobs: { result?: unknown }[] }>(
      await c.call("await_tally", { job_ids: [job_id], timeout_seconds: 20 }),
    );
    expect(awaited.jobs[0]?.result).toEqual({ label: "total", count: 2, sum: 9 });

    // Closing the client closes stdin, which closes the runtime: the next process gets the store at once.
    await c.close();
    const next = await connectV2({ ASYNC_TOOLS_STORE: store });
    const probed = structured<{ jobs: { status: string }[] }>(
      await next.call("probe_tally", { job_ids: [job_id] }),
    );
    expect(probed.jobs[0]?.status).toBe("completed");
  });

  it("tells the client why when the store cannot open, instead of just exiting", async () => {
    const { dir } = scratch();
    const file = join(dir, "not-a-store.db");
    writeFileSync(file, "this is not a SQLite file\n".repeat(100));
    const failed = await connectV2({ ASYNC_TOOLS_STORE: `sqlite:${file}` }, { mode: "legacy" }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failed?.message).toMatch(/could not start: STORE_CORRUPT/);
  });

  it("sends progress notifications while await blocks, from the job's own progress", async () => {
    const { store } = scratch();
    const c = await connectV2({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "1500" });
    const { job_id } = structured<Receipt>(await c.call("start_tally", { numbers: [1, 1] }));
    const seen: { progress: number; total?: number | undefined; message?: string | undefined }[] = [];
    const result = await c.client.callTool(
      { name: "await_tally", arguments: { job_ids: [job_id], timeout_seconds: 20 } },
      { onprogress: (progress) => seen.push(progress) },
    );
    expect(result.isError).toBeFalsy();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p) => p.total === 1)).toBe(true);
    expect(seen.map((p) => p.message).join(" ")).toMatch(/counted|summed|jobs done/);
  });

  it("resumes every job under its ID after a SIGKILL, without repeating a finished step", async () => {
    const { store, log } = scratch();
    const first = await connectV2({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "60000" });
    const ids: string[] = [];
    for (const n of [1, 2, 3])
      ids.push(structured<Receipt>(await first.call("start_tally", { numbers: [n, n] })).job_id);
    await expect.poll(() => ids.every((id) => sideEffectCounts(log).get(`${id} sum`) === 1)).toBe(true);
    process.kill(first.pid, "SIGKILL");

    const second = await connectV2({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "2000" });
    let jobs: { job_id: string; status: string; result?: { sum: number } }[] = [];
    await expect
      .poll(async () => {
        const out = structured<{ jobs: typeof jobs; done: boolean }>(
          await second.call("await_tally", { job_ids: ids, timeout_seconds: 5 }),
        );
        jobs = out.jobs;
        return out.done;
      })
      .toBe(true);
    expect(jobs.map((j) => [j.job_id, j.status, j.result?.sum])).toEqual([
      [ids[0], "completed", 2],
      [ids[1], "completed", 4],
      [ids[2], "completed", 6],
    ]);
    const seen = sideEffectCounts(log);
    for (const id of ids) {
      expect(seen.get(`${id} count`), `count of ${id}`).toBe(1);
      expect(seen.get(`${id} sum`), `sum of ${id}`).toBe(2);
      expect(seen.get(`${id} label`), `label of ${id}`).toBe(1);
    }
  });
});
