/**
 * The types of durable questions, on the floor of `define.ts` so a job's context (`JobContext`) can name them:
 * what a job asks (`Question`), what comes back (`Answer`), and the options of `ctx.ask`, `ctx.sample` and
 * `ctx.roots`. The runtime's `runtime/questions.ts` asks, parks and delivers.
 */
import type { z } from "zod";
import type { AnswerProblem } from "./errors.ts";

/** What a question asks for: a person's answer to a form, a model's completion, or the client's roots. */
export type QuestionKind = "elicitation" | "sampling" | "roots";

/**
 * The JSON Schema of an elicitation form, as MCP's `requestedSchema` allows it: a flat object whose
 * properties are strings (optionally with `format` or `enum`), numbers, integers, booleans, or arrays of
 * enumerated strings (a multi-select).
 */
export interface RequestedSchema {
  type: "object";
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
}

/** The request of an elicitation question: MCP's `elicitation/create` params, form mode. */
export interface ElicitationRequest {
  mode?: "form";
  message: string;
  requestedSchema: RequestedSchema;
}

/** The request of a sampling question: MCP's `sampling/createMessage` params. */
export interface SamplingRequest {
  messages: { role: "user" | "assistant"; content: Record<string, unknown> | Record<string, unknown>[] }[];
  maxTokens: number;
  systemPrompt?: string;
  temperature?: number;
  stopSequences?: string[];
  modelPreferences?: Record<string, unknown>;
  includeContext?: "none" | "thisServer" | "allServers";
  metadata?: Record<string, unknown>;
}

/** A question a job is waiting on: what probe, the CLI, the dashboard and every MCP face show. */
export interface Question {
  /** Stable: the job ID and the question's name (`<job>/<name>`, `#2` for the second ask of one name). */
  id: string;
  kind: QuestionKind;
  /** The name the job's function gave it (`ctx.ask("confirm", …)`). */
  name: string;
  /** The MCP request params: `elicitation/create` (form mode), `sampling/createMessage`, or `{}` for roots. */
  request: ElicitationRequest | SamplingRequest | Record<string, never>;
  /** When the job asked, epoch ms. */
  askedAt: number;
  /** When an unanswered question times out, epoch ms, if it does before the job does. */
  timeoutAt?: number;
}

/** A person's answer to an elicitation: the form's content, or a decline, or a cancel. */
export type ElicitationAnswer =
  | { action: "accept"; content: Record<string, unknown> }
  | { action: "decline" }
  | { action: "cancel" };

/** A client's answer to a sampling question: MCP's `CreateMessageResult`. */
export interface SamplingAnswer {
  role: "assistant";
  content: Record<string, unknown> | Record<string, unknown>[];
  model: string;
  stopReason?: string;
  [key: string]: unknown;
}

/** A client's answer to a roots question: MCP's `ListRootsResult`. */
export interface RootsAnswer {
  roots: { uri: string; name?: string }[];
  [key: string]: unknown;
}

/** An answer to any kind of question. */
export type Answer = ElicitationAnswer | SamplingAnswer | RootsAnswer;

/**
 * What answering did. `not_found`: no such job, or another principal's (told apart from nothing). `invalid`:
 * nothing was delivered, and `problem` says why; the questions stay open.
 */
export type AnswerOutcome =
  | { status: "ok" }
  | { status: "not_found" }
  | { status: "invalid"; problem: AnswerProblem };

/** Options of `ctx.ask`. `S` is the zod object schema of the form. */
export interface AskOptions<S extends z.ZodObject> {
  /** What the person is asked, in a sentence or two. */
  message: string;
  /** The form: a flat `z.object` of strings, numbers, booleans, enums and arrays of enums. */
  schema: S;
  /** How long the question stays open, in ms. Default: until the job's own timeout. */
  timeoutMs?: number;
  /**
   * What a question that timed out answers: `"fail"` (default) throws a {@link QuestionTimeoutError}, which
   * fails the job unless the function catches it; an answer is returned as if the person had given it.
   */
  onTimeout?: "fail" | ElicitationAnswer;
}

/** Options of `ctx.sample` and `ctx.roots`. */
export interface QuestionTimeout<A> {
  /** How long the question stays open, in ms. Default: until the job's own timeout. */
  timeoutMs?: number;
  /** `"fail"` (default) throws a {@link QuestionTimeoutError}; an answer is returned in its place. */
  onTimeout?: "fail" | A;
}

/** What `ctx.ask` resolves to: the accepted content typed by the schema, or a decline or cancel. */
export type AskAnswer<S extends z.ZodObject> =
  | { action: "accept"; content: z.output<S> }
  | { action: "decline" }
  | { action: "cancel" };

/** The durable questions a job's function can ask, part of its `JobContext`. */
export interface QuestionContext {
  /**
   * Asks a person to fill in a form (MCP elicitation) and waits, durably, for the answer: the job is
   * `input_required` meanwhile, holds no slot and no process, and resumes here when the answer arrives,
   * whichever process receives it. A decline or cancel is a value to handle, not an error.
   *
   * @example
   * ```ts
   * const answer = await ctx.ask("confirm", {
   *   message: "This is 14 requests to Open-Meteo. Continue?",
   *   schema: z.object({ proceed: z.boolean() }),
   * });
   * if (answer.action !== "accept" || !answer.content.proceed) return { skipped: true };
   * ```
   */
  ask<S extends z.ZodObject>(name: string, options: AskOptions<S>): Promise<AskAnswer<S>>;
  /** Asks the client's model for a completion (MCP sampling) and waits for it, durably, like `ask`. */
  sample(
    name: string,
    request: SamplingRequest,
    options?: QuestionTimeout<SamplingAnswer>,
  ): Promise<SamplingAnswer>;
  /** Asks the client for its roots (MCP roots) and waits for them, durably, like `ask`. */
  roots(name?: string, options?: QuestionTimeout<RootsAnswer>): Promise<RootsAnswer>;
}

/** Thrown by `ctx.ask`, `ctx.sample` and `ctx.roots` when a question timed out and `onTimeout` is `"fail"`. */
export class QuestionTimeoutError extends Error {
  override readonly name = "QuestionTimeoutError";
  /** The question's ID. */
  readonly questionId: string;
  constructor(questionId: string, timeoutMs: number) {
    super(`No answer to question ${questionId} within ${Math.round(timeoutMs / 1000)} s.`);
    this.questionId = questionId;
  }
}
