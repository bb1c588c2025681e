/**
 * Reading tool results the way a model would: structured content, job IDs, and awaiting jobs to the end.
 */

import { structured } from "@async-tools/test-helpers/mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { deadline } from "./time.ts";

/** Anything that calls tools: an in-process client or a child process's client. */
export interface Caller {
  call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** One job as probe and await report it. */
export interface Job {
  job_id: string;
  status: string;
  queue_position?: number;
  retrying?: { step: string; attempt: number; attempts: number; error: string; next_attempt_at: string };
  error?: string;
  result?: Record<string, number>;
}

/** Whether a job in `status` may still change: `queued` (waiting for a slot) or `working`. */
export function unfinished(status: string): boolean {
  return status === "queued" || status === "working";
}

/** Starts a job through `start_<tool>` and returns its ID and whether this call created it. */
export async function startJob(
  caller: Caller,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ id: string; created: boolean }> {
  const out = structured<{ job_id: string; created: boolean }>(await caller.call(`start_${tool}`, args));
  return { id: out.job_id, created: out.created };
}

/** Calls `await_<tool>` until every job is done (in chunks of at most 1000 IDs) or `timeoutMs` passes. */
export async function awaitJobs(
  caller: Caller,
  tool: string,
  ids: string[],
  timeoutMs: number,
): Promise<Job[]> {
  const until = deadline(timeoutMs);
  const done = new Map<string, Job>();
  for (let i = 0; i < 10_000 && done.size < ids.length && !until.passed(); i++) {
    const pending = ids.filter((id) => !done.has(id)).slice(0, 1000);
    const seconds = Math.max(0.1, Math.min(20, until.left() / 1000));
    const out = structured<{ jobs: Job[] }>(
      await caller.call(
        `await_${tool}`,
        { job_ids: pending, timeout_seconds: seconds },
        seconds * 1000 + 30_000,
      ),
    );
    for (const job of out.jobs) if (!unfinished(job.status)) done.set(job.job_id, job);
  }
  return ids.map((id) => done.get(id) ?? { job_id: id, status: "working" });
}

/** Probes `ids` through `probe_<tool>`, in chunks of at most 1000. */
export async function probeJobs(caller: Caller, tool: string, ids: string[]): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const out = structured<{ jobs: Job[] }>(
      await caller.call(`probe_${tool}`, { job_ids: ids.slice(i, i + 1000) }),
    );
    jobs.push(...out.jobs);
  }
  return jobs;
}

/** A client of a Streamable HTTP MCP server at `url`. */
export async function connectHttp(url: string): Promise<Caller> {
  const client = new Client({ name: "async-tools-bench", version: "0.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    call: async (name, args, timeoutMs = 60_000) =>
      (await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult,
    close: () => client.close(),
  };
}
