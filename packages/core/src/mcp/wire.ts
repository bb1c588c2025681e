/**
 * The wire shapes of the job tools, shared by both MCP SDK generations: snake_case JSON a model reads, and
 * the zod schemas advertised as input and output schemas. The job model's camelCase stays below this line.
 */
import { z } from "zod";
import { JOB_STATUSES, type JobSnapshot } from "../runtime/job.ts";
import { errorText } from "./text.ts";

/** What a tool returns, in the shape both SDK generations accept. */
export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export const STATUS = z.enum(JOB_STATUSES);

/** The `fresh` flag the start tool (and the task tool) add to a definition's input. */
export const freshField = z
  .boolean()
  .optional()
  .describe("Start a new run even if this exact job already finished. Leave out to reuse the existing job.");

/**
 * A result whose tool declares no output schema: any JSON value, spelled out type by type, because an untyped
 * `{}` is a schema many clients cannot map (the MCP Inspector flags it as unportable).
 */
const ANY_JSON = z.unknown().meta({
  description: "The job's result: any JSON value.",
  anyOf: [
    { type: "string" },
    { type: "number" },
    { type: "boolean" },
    { type: "null" },
    { type: "array", minItems: 0 },
    { type: "object", minProperties: 0 },
  ],
});

/** The JSON shape of one job in tool results, with the definition's ID field name. */
export function jobSchema(idField: string, result?: z.ZodType) {
  return z.object({
    [idField]: z.string(),
    status: STATUS,
    tool: z.string().optional(),
    created_at: z.string().optional(),
    completed_at: z.string().optional(),
    progress: z
      .object({ fraction: z.number(), message: z.string().optional(), updated_at: z.string() })
      .optional(),
    queue_position: z.number().optional(),
    retrying: z
      .object({
        step: z.string(),
        attempt: z.number(),
        attempts: z.number(),
        error: z.string(),
        next_attempt_at: z.string(),
      })
      .optional(),
    questions: z
      .array(
        z.object({
          id: z.string(),
          kind: z.enum(["elicitation", "sampling", "roots"]),
          name: z.string(),
          request: z.looseObject({}).meta({
            description: "The MCP request params (elicitation/create, sampling/createMessage, roots/list).",
            additionalProperties: true,
          }),
          asked_at: z.string(),
          timeout_at: z.string().optional(),
        }),
      )
      .optional(),
    error: z.string().optional(),
    result: (result ?? ANY_JSON).optional(),
  });
}

/** A job as the model reads it: snake_case, the ID under the definition's ID field. */
export function toWire(snapshot: JobSnapshot, idField: string): Record<string, unknown> {
  const wire: Record<string, unknown> = { [idField]: snapshot.jobId, status: snapshot.status };
  if (snapshot.tool !== undefined) wire.tool = snapshot.tool;
  if (snapshot.createdAt !== undefined) wire.created_at = snapshot.createdAt;
  if (snapshot.completedAt !== undefined) wire.completed_at = snapshot.completedAt;
  if (snapshot.progress !== undefined) {
    const { fraction, message, updatedAt } = snapshot.progress;
    wire.progress = { fraction, ...(message === undefined ? {} : { message }), updated_at: updatedAt };
  }
  if (snapshot.queuePosition !== undefined) wire.queue_position = snapshot.queuePosition;
  if (snapshot.retrying !== undefined) {
    const { step, attempt, attempts, error, nextAttemptAt } = snapshot.retrying;
    wire.retrying = { step, attempt, attempts, error, next_attempt_at: nextAttemptAt };
  }
  if (snapshot.questions !== undefined) {
    wire.questions = snapshot.questions.map((q) => ({
      id: q.id,
      kind: q.kind,
      name: q.name,
      request: q.request,
      asked_at: new Date(q.askedAt).toISOString(),
      ...(q.timeoutAt === undefined ? {} : { timeout_at: new Date(q.timeoutAt).toISOString() }),
    }));
  }
  if (snapshot.error !== undefined) wire.error = errorText(snapshot);
  if (snapshot.result !== undefined) wire.result = snapshot.result;
  return wire;
}

/** A successful result: a line for the model, then the same data as JSON, and as structuredContent. */
export function ok(text: string, structured: Record<string, unknown>): ToolResult {
  return {
    content: [{ type: "text", text: `${text}\n${JSON.stringify(structured)}` }],
    structuredContent: structured,
  };
}

/** A tool error a model can act on. */
export function fail(text: string): ToolResult {
  return { content: [{ type: "text", text }], isError: true };
}
