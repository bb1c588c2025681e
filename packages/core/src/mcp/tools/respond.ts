/** The respond tool: answers a question a job waits on, for clients the server cannot ask directly. */
import { z } from "zod";
import { answerProblemText, describeLine, questionsNote, respondDescription } from "../text.ts";
import { fail, ok, toWire } from "../wire.ts";
import { callerOf, type JobToolScope, type ToolSpec } from "./spec.ts";

export function respondTool(scope: JobToolScope, name: string): ToolSpec {
  const { names, engine } = scope;
  const example = `${scope.tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  return {
    name,
    title: `Respond: ${scope.tools.length === 1 ? scope.tools[0]?.name : "jobs"}`,
    description: respondDescription(scope.startedBy, names),
    inputSchema: z.object({
      [names.idField]: z.string().describe(`The job that asks, e.g. ${JSON.stringify(example)}.`),
      question_id: z
        .string()
        .optional()
        .describe("The question's id from the job's questions; optional when the job waits on one question."),
      answer: z.looseObject({}).meta({
        additionalProperties: true,
        description:
          'For a form: {"action": "accept", "content": {…}}, {"action": "decline"} or {"action": "cancel"}.',
      }),
    }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const caller = callerOf(ctx);
      const jobId = String(args[names.idField]);
      let questionId = typeof args.question_id === "string" ? args.question_id : undefined;
      const before = await engine.snapshot(jobId, false, caller);
      const served = new Set(scope.tools.map((t) => t.name));
      if (before.status === "not_found" || (before.tool !== undefined && !served.has(before.tool))) {
        return fail(`No job found for ${jobId}. Use a ${names.idField} returned by ${scope.startedBy}.`);
      }
      const open = before.questions ?? [];
      if (questionId === undefined) {
        if (open.length !== 1) {
          return fail(
            open.length === 0
              ? `Job ${jobId} waits on no question now (${describeLine(before)}).`
              : `Job ${jobId} waits on ${open.length} questions: pass question_id, one of ${open.map((q) => q.id).join(", ")}.`,
          );
        }
        questionId = open[0]?.id as string;
      }
      const outcome = await engine.answer(jobId, { [questionId]: args.answer }, caller);
      if (outcome.status === "not_found") return fail(`No job found for ${jobId}.`);
      if (outcome.status === "invalid")
        return fail(`${answerProblemText(jobId, outcome.problem)} Nothing was delivered; try again.`);
      const after = await engine.snapshot(jobId, false, caller);
      return ok(
        `Answered ${questionId}; the job resumes. Call ${names.await} for its result.\n${describeLine(after)}` +
          questionsNote([after], names),
        { job: toWire(after, names.idField) },
      );
    },
  };
}
