/**
 * A tool as both MCP SDK generations can register it: name, schemas, annotations and a handler that takes
 * plain arguments and a small call context. The faces (`mcp/v1`, `mcp/v2`) translate it to their SDK.
 */
import type { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import type { TraceContext } from "../../internal/trace-context.ts";
import type { CallerScope } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import type { ClientQuestions } from "../client-questions.ts";
import type { JobToolNames } from "../text.ts";
import type { ToolResult } from "../wire.ts";

/** A progress notification's payload, as MCP defines it. */
export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

/** What a handler knows about the call it answers. */
export interface CallContext {
  /** Aborts when the client cancels the call or the connection ends. */
  signal: AbortSignal;
  /** Sends a progress notification; present only when the client asked for progress. */
  progress?: (update: ProgressUpdate) => void;
  /**
   * The authenticated caller, when the transport has one (see `principalOf`): the jobs the call starts belong
   * to it, and it sees no other principal's jobs. Absent over stdio and unauthenticated HTTP.
   */
  principal?: string;
  /** The JSON-RPC request the call came in: what telemetry records of it (`mcp/telemetry.ts`). */
  request?: CallRequest;
  /** The trace the call continues, which a job it starts stores: set by `callTool`. */
  trace?: TraceContext | undefined;
  /** Asks the client a job's question, when it declared it can be asked (elicitation, sampling, roots). */
  asker?: ClientQuestions;
}

/** What a face knows of the request a call came in. */
export interface CallRequest {
  id?: string | number;
  sessionId?: string;
  /** The request's `params._meta`, where a client puts its trace context. */
  meta?: Record<string, unknown>;
  /** Whether the request came over HTTP (else stdio or in memory). */
  http?: boolean;
}

/** The engine's caller scope of a call: its principal, if any. */
export function callerOf(ctx: CallContext): CallerScope {
  return ctx.principal === undefined ? {} : { principal: ctx.principal };
}

/** Hints about a tool's behaviour, as MCP's `ToolAnnotations`. */
export interface Annotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** One tool, independent of the SDK generation. */
export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  inputSchema: z.ZodObject;
  outputSchema?: z.ZodObject;
  annotations: Annotations;
  handler(args: Record<string, unknown>, ctx: CallContext): Promise<ToolResult>;
}

/** A spec's tool config as both SDKs' `registerTool` take it: everything but its name and handler. */
export function toolConfigOf(spec: ToolSpec): Omit<ToolSpec, "name" | "handler"> {
  return {
    title: spec.title,
    description: spec.description,
    inputSchema: spec.inputSchema,
    ...(spec.outputSchema === undefined ? {} : { outputSchema: spec.outputSchema }),
    annotations: spec.annotations,
  };
}

/** What every job tool builder takes: the engine, the names to point at, and the definitions it serves. */
export interface JobToolScope {
  engine: JobEngine;
  names: JobToolNames;
  /** The definitions whose jobs these tools take; one for per-tool tools, all for shared ones. */
  tools: readonly AnyAsyncTool[];
  /** How `start_*` tools are named in text ("start_x" or "a start tool"). */
  startedBy: string;
}
