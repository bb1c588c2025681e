/**
 * Binding a definition to an McpServer: the tool triple (start, probe, await) and cancel, with inputs
 * validated by zod, results as structuredContent plus a line a model can read, and errors as tool results.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AsyncTool } from "./define-async-tool.ts";
import { jobIdsSchema, normalizeJobIds } from "./internal/job-ids.ts";
import type { JobEngine, JobSnapshot } from "./jobs.ts";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type AnyTool = AsyncTool<z.ZodObject, unknown>;

const STATUS = z.enum(["working", "completed", "failed", "cancelled", "not_found", "expired"]);

/** The JSON shape of one job in tool results, with the definition's ID field name. */
function snapshotSchema(idField: string, result?: z.ZodType) {
  return z.object({
    [idField]: z.string(),
    status: STATUS,
    tool: z.string().optional(),
    created_at: z.string().optional(),
    completed_at: z.string().optional(),
    progress: z
      .object({ fraction: z.number(), message: z.string().optional(), updated_at: z.string() })
      .optional(),
    error: z.string().optional(),
    ...(result ? { result: result.optional() } : { result: z.unknown().optional() }),
  });
}

/** A snapshot with `job_id` renamed to the definition's ID field. */
function present(snapshot: JobSnapshot, idField: string): Record<string, unknown> {
  const { job_id, ...rest } = snapshot;
  return { [idField]: job_id, ...rest };
}

function describeLine(s: JobSnapshot): string {
  let line = `${s.job_id}: ${s.status}`;
  if (s.status === "working" && s.progress) {
    line += ` ${Math.round(s.progress.fraction * 100)}%`;
    if (s.progress.message) line += ` (${s.progress.message})`;
  }
  if (s.error && s.status !== "working") line += ` - ${s.error}`;
  return line;
}

function ok(text: string, structured: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: "text", text: `${text}\n${JSON.stringify(structured)}` }],
    structuredContent: structured,
  };
}

function fail(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/** Registers the start, probe, await (and cancel) tools of `tool` on `server`. */
export function registerTools(server: McpServer, tool: AnyTool, engine: JobEngine): void {
  const names = tool.toolNames;
  const idField = tool.idField;
  const idsField = `${idField}s`;
  const example = `${tool.name}-3f2a9c1e0b7d4a55`;
  const cancelHint = names.cancel ? `, or ${names.cancel} to stop it` : "";

  const startInput = tool.input.extend({
    fresh: z
      .boolean()
      .optional()
      .describe(
        "Start a new run even if this exact job already finished. Leave out to reuse the existing job.",
      ),
  });
  server.registerTool(
    names.start,
    {
      title: `Start: ${tool.name}`,
      description:
        `${tool.description.replace(/\.?\s*$/, ".")} Runs in the background: returns a ${idField} at once. ` +
        `The same arguments always give the same ${idField} and never run the work twice, so retrying is safe. ` +
        `Next: call ${names.await} with ${idsField} to wait for results (it returns within about ` +
        `${tool.awaitSeconds.default} s; call it again for jobs still working), or ${names.probe} to check ` +
        `progress without waiting${cancelHint}. To do several at once, start them all first, then await them together.`,
      inputSchema: startInput,
      outputSchema: z.object({
        [idField]: z.string(),
        status: STATUS,
        created: z.boolean(),
        tool: z.string(),
        next: z.string(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (args: Record<string, unknown>) => {
      const { fresh, ...input } = args;
      const { snapshot, created } = await engine.start(tool, input, { fresh: fresh === true });
      const next =
        snapshot.status === "working"
          ? `Call ${names.await} with {"${idsField}": ["${snapshot.job_id}"]} to get the result.`
          : `Call ${names.await} with {"${idsField}": ["${snapshot.job_id}"]} to read it` +
            (snapshot.status === "completed" ? "." : `, or start again with fresh: true to retry.`);
      const text = created
        ? `Started job ${snapshot.job_id} (working). ${next}`
        : `Job ${snapshot.job_id} already exists for these arguments (${snapshot.status}); no new work started. ${next}`;
      return ok(text, {
        [idField]: snapshot.job_id,
        status: snapshot.status,
        created,
        tool: tool.name,
        next,
      });
    },
  );

  /** Parses the IDs a model sent and reads each job once; refuses IDs of other tools and all-unknown lists. */
  const readIds = async (
    raw: unknown,
  ): Promise<{ ids: string[]; snapshots: JobSnapshot[] } | { error: CallToolResult }> => {
    const parsed = normalizeJobIds(raw, idsField, example);
    if (!parsed.ok) return { error: fail(parsed.message) };
    const snapshots = await Promise.all(parsed.ids.map((id) => engine.snapshot(id)));
    const foreign = snapshots.filter((s) => s.tool !== undefined && s.tool !== tool.name);
    if (foreign.length > 0) {
      const lines = foreign.map(({ job_id, tool: owner }) => {
        const other = owner === undefined ? undefined : engine.definition(owner);
        return `${job_id} is a job of ${owner}${other ? `: use ${other.toolNames.probe} / ${other.toolNames.await}` : ""}`;
      });
      return { error: fail(`These ${idsField} do not belong to ${tool.name}: ${lines.join("; ")}.`) };
    }
    if (snapshots.every((s) => s.status === "not_found")) {
      return {
        error: fail(
          `No job found for ${parsed.ids.join(", ")}. Use a ${idField} returned by ${names.start}, or call ${names.start} to start the job.`,
        ),
      };
    }
    return { ids: parsed.ids, snapshots };
  };

  const idsInput = { [idsField]: jobIdsSchema(idsField, example) };
  const jobsOutput = z.object({ jobs: z.array(snapshotSchema(idField)) });

  server.registerTool(
    names.probe,
    {
      title: `Probe: ${tool.name}`,
      description:
        `Checks jobs started by ${names.start} without waiting: for each ${idField}, its status (working, ` +
        `completed, failed, cancelled, not_found, expired), progress and error. Results are not included: call ` +
        `${names.await} to collect them. Takes up to 1000 ${idsField} at once.`,
      inputSchema: z.object(idsInput),
      outputSchema: jobsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args: Record<string, unknown>) => {
      const read = await readIds(args[idsField]);
      if ("error" in read) return read.error;
      const { snapshots } = read;
      const done = snapshots.filter((s) => s.status === "completed").length;
      const header = `${done} of ${snapshots.length} completed.`;
      const hint = done > 0 ? ` Call ${names.await} to collect results.` : "";
      return ok(`${header}${hint}\n${snapshots.map(describeLine).join("\n")}`, {
        jobs: snapshots.map((s) => present(s, idField)),
      });
    },
  );

  const { default: defaultWait, max: maxWait } = tool.awaitSeconds;
  server.registerTool(
    names.await,
    {
      title: `Await: ${tool.name}`,
      description:
        `Waits for jobs started by ${names.start} and returns their results. Blocks until all are done or ` +
        `timeout_seconds pass (default ${defaultWait}, at most ${maxWait}), then returns what is done and lists ` +
        `the jobs still working in still_working: call ${names.await} again for those. Unfinished jobs are not ` +
        `an error.`,
      inputSchema: z.object({
        ...idsInput,
        timeout_seconds: z
          .number()
          .min(0)
          .optional()
          .describe(
            `How long to wait at most, in seconds (default ${defaultWait}; values above ${maxWait} are reduced to ${maxWait}).`,
          ),
      }),
      outputSchema: z.object({
        jobs: z.array(snapshotSchema(idField, tool.output)),
        done: z.boolean(),
        still_working: z.array(z.string()),
        waited_seconds: z.number(),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args: Record<string, unknown>, extra: Extra) => {
      const read = await readIds(args[idsField]);
      if ("error" in read) return read.error;
      const requested = typeof args.timeout_seconds === "number" ? args.timeout_seconds : defaultWait;
      const seconds = Math.min(requested, maxWait);
      const began = Date.now();
      const progressToken = extra._meta?.progressToken;
      let sent = 0;
      const snapshots = await engine.wait(read.ids, seconds * 1000, {
        signal: extra.signal,
        ...(progressToken === undefined
          ? {}
          : {
              onTick: (current: JobSnapshot[]) => {
                const finished = current.filter((s) => s.status !== "working").length;
                sent += 1;
                void extra
                  .sendNotification({
                    method: "notifications/progress",
                    params: {
                      progressToken,
                      progress: sent,
                      message: `${finished} of ${current.length} jobs done; ${current
                        .filter((s) => s.status === "working")
                        .slice(0, 5)
                        .map(describeLine)
                        .join("; ")}`,
                    },
                  })
                  .catch(() => undefined);
              },
            }),
      });
      const stillWorking = snapshots.filter((s) => s.status === "working").map((s) => s.job_id);
      const waited = Math.round((Date.now() - began) / 100) / 10;
      const header =
        stillWorking.length === 0
          ? `All ${snapshots.length} jobs are done.`
          : `${snapshots.length - stillWorking.length} of ${snapshots.length} jobs done after ${waited} s. ` +
            `Call ${names.await} again with {"${idsField}": ${JSON.stringify(stillWorking)}} for the rest.`;
      return ok(`${header}\n${snapshots.map(describeLine).join("\n")}`, {
        jobs: snapshots.map((s) => present(s, idField)),
        done: stillWorking.length === 0,
        still_working: stillWorking,
        waited_seconds: waited,
      });
    },
  );

  if (names.cancel) {
    server.registerTool(
      names.cancel,
      {
        title: `Cancel: ${tool.name}`,
        description:
          `Cancels jobs started by ${names.start} that are still working; finished jobs are left as they are. ` +
          `A later ${names.start} with the same arguments starts a fresh run.`,
        inputSchema: z.object(idsInput),
        outputSchema: jobsOutput,
        annotations: {
          readOnlyHint: false,
          destructiveHint: true,
          idempotentHint: true,
          openWorldHint: false,
        },
      },
      async (args: Record<string, unknown>) => {
        const read = await readIds(args[idsField]);
        if ("error" in read) return read.error;
        const snapshots = await Promise.all(read.ids.map((id) => engine.cancel(id)));
        return ok(snapshots.map(describeLine).join("\n"), {
          jobs: snapshots.map((s) => present(s, idField)),
        });
      },
    );
  }
}
