/**
 * A job's open questions as the 2026-07-28 protocol carries them: `inputRequests` (key → the server-to-client
 * request, in a multi-round-trip result or on an `input_required` task) and, back, `inputResponses` (key →
 * the client's result) turned into the runtime's answers (question ID → answer). A question's key is its ID
 * without the job's prefix (`confirm`, `confirm#2` for the second ask of that name), which never names two
 * questions over a job's life, as the Tasks extension requires of keys.
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import type { Question, QuestionKind } from "../../question-types.ts";

/** `inputRequests` on the wire. */
export type InputRequests = Record<string, { method: string; params: Record<string, unknown> }>;

/** The request method of each kind of question. */
const METHOD: Record<QuestionKind, string> = {
  elicitation: "elicitation/create",
  sampling: "sampling/createMessage",
  roots: "roots/list",
};

/** The client capability each kind of question needs. */
const CAPABILITY: Record<QuestionKind, string> = {
  elicitation: "elicitation",
  sampling: "sampling",
  roots: "roots",
};

const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

/** The key of `question` (of job `jobId`) in `inputRequests` and `inputResponses`. */
export function inputKeyOf(question: Question, jobId: string): string {
  const prefix = `${jobId}/`;
  return question.id.startsWith(prefix) ? question.id.slice(prefix.length) : question.id;
}

/** The open questions of a job as `inputRequests`; with `asks`, only the kinds it allows. */
export function inputRequestsOf(
  questions: readonly Question[],
  jobId: string,
  asks: (kind: QuestionKind) => boolean = () => true,
): InputRequests {
  const requests: InputRequests = {};
  for (const question of questions) {
    if (!asks(question.kind)) continue;
    requests[inputKeyOf(question, jobId)] = {
      method: METHOD[question.kind],
      params: question.request as Record<string, unknown>,
    };
  }
  return requests;
}

/**
 * The answers among `responses` to the open `questions`, by question ID. Keys of no open question (never
 * asked, answered already, or of another job) are left out: the extension says a server SHOULD ignore them.
 */
export function answersOf(
  questions: readonly Question[],
  jobId: string,
  responses: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const answers: Record<string, unknown> = {};
  for (const question of questions) {
    const key = inputKeyOf(question, jobId);
    if (Object.hasOwn(responses, key)) answers[question.id] = responses[key];
  }
  return answers;
}

/**
 * Which kinds of question the client of a 2026-07-28 request can be asked in a multi-round-trip result: the
 * ones whose capability its envelope declares (a server MUST NOT send a request the client did not declare).
 */
export function askableKinds(ctx: ServerContext): (kind: QuestionKind) => boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = (envelope?.[CLIENT_CAPABILITIES] ?? {}) as Record<string, unknown>;
  return (kind) => capabilities[CAPABILITY[kind]] !== undefined;
}
