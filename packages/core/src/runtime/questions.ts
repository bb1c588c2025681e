/**
 * Durable questions: a job asks a person (elicitation) or the client (sampling, roots) and waits, parked, for
 * the answer. The job awaits a Resonate durable promise (`ctx.promise`), so it holds no process and no slot
 * while it waits, survives restarts, and resumes on whichever process the answer reaches. Each question also
 * gets an index entry, a promise with an ID derived from the job's (`<job>:ask.<n>`), which is how any
 * process finds a job's open questions without a search in the store.
 */
import type { Context } from "@resonatehq/sdk/async";
import { z } from "zod";
import { type AnswerProblem, AsyncToolsError } from "../errors.ts";
import {
  type Answer,
  type AnswerOutcome,
  type ElicitationAnswer,
  type ElicitationRequest,
  type Question,
  type QuestionContext,
  type QuestionKind,
  QuestionTimeoutError,
  type RequestedSchema,
  type RootsAnswer,
  type SamplingAnswer,
} from "../question-types.ts";
import { QUESTION_TAG } from "../store/store.ts";
import type { PromiseClient } from "./promise-client.ts";

/** The promise tag naming the question a promise belongs to (index entries and the awaited promises). */
export { QUESTION_TAG };

/** What an index entry holds: the question and the promise the job awaits for it. */
interface IndexEntry {
  question: Question;
  promiseId: string;
}

/** The ID of a job's `n`th index entry. */
function indexId(jobId: string, n: number): string {
  return `${jobId}:ask.${n}`;
}

/** How each round's answer is stored in the awaited promise; a timed-out one has no value. */
interface Envelope {
  answer: Answer;
}

/**
 * The questions of `jobId`'s current execution pass: one per pass, so the index numbers and name counts replay
 * identically (asks are made in the same order on every pass of a deterministic function). `onAsk` hears of
 * each question as it is posed.
 */
export function questionContext(rctx: Context, promises: PromiseClient, onAsk: () => void): QuestionContext {
  const jobId = rctx.id;
  let rounds = 0;
  const names = new Map<string, number>();
  const idFor = (name: string) => {
    const seen = (names.get(name) ?? 0) + 1;
    names.set(name, seen);
    return `${jobId}/${name}${seen === 1 ? "" : `#${seen}`}`;
  };

  /** One round: the awaited promise and its index entry, created in this order in the same tick. */
  const pose = (
    id: string,
    kind: QuestionKind,
    name: string,
    request: Question["request"],
    timeoutMs: number | undefined,
  ): Promise<Envelope | undefined> => {
    const n = rounds++;
    onAsk();
    // Awaitable on every store: the SDK's servers count a global promise as external, resonate.sql (Postgres)
    // only one tagged external, with a target or a timer, and answers a suspend on any other with a 422.
    const tags: Record<string, string> = { [QUESTION_TAG]: id, "resonate:external": "true" };
    if (timeoutMs !== undefined) {
      // A target and the timer tag make the store settle the promise at its deadline (resolved, with no
      // value), which wakes the job; a bare promise would only ever be settled by an answer.
      tags["resonate:target"] = rctx.options().target;
      tags["resonate:timer"] = "true";
    }
    const awaited = rctx.promise<Envelope | undefined>({
      ...(timeoutMs === undefined ? { timeout: Number.MAX_SAFE_INTEGER } : { timeout: timeoutMs }),
      tags,
    });
    const recordIt = async function recordQuestion() {
      const askedAt = Date.now();
      const deadline = timeoutMs === undefined ? undefined : Math.min(askedAt + timeoutMs, rctx.timeoutAt);
      const question: Question = {
        id,
        kind,
        name,
        request,
        askedAt,
        ...(deadline === undefined ? {} : { timeoutAt: deadline }),
      };
      const entry: IndexEntry = { question, promiseId: awaited.id };
      await promises.create(indexId(jobId, n), rctx.timeoutAt, entry, {
        [QUESTION_TAG]: id,
        "resonate:scope": "global",
        "resonate:origin": jobId,
        "resonate:parent": jobId,
        "resonate:branch": indexId(jobId, n),
      });
      return null;
    };
    const recorded = rctx.run(recordIt, rctx.options({ retryPolicy: undefined }));
    return recorded.then(() => awaited);
  };

  const timedOut = <A>(id: string, timeoutMs: number, onTimeout: "fail" | A | undefined): A => {
    if (onTimeout === undefined || onTimeout === "fail") throw new QuestionTimeoutError(id, timeoutMs);
    return onTimeout;
  };

  return {
    async ask(name, options) {
      const requestedSchema = toRequestedSchema(options.schema, name);
      const id = idFor(name);
      let message = options.message;
      for (;;) {
        const request: ElicitationRequest = { mode: "form", message, requestedSchema };
        const envelope = await pose(id, "elicitation", name, request, options.timeoutMs);
        const answer =
          (envelope?.answer as ElicitationAnswer | undefined) ??
          timedOut<ElicitationAnswer>(id, options.timeoutMs ?? 0, options.onTimeout);
        if (answer.action !== "accept") return answer;
        const parsed = options.schema.safeParse(answer.content);
        if (parsed.success)
          return { action: "accept", content: parsed.data as z.output<typeof options.schema> };
        // The store's check passed but the schema's own rules (refinements) did not: ask again, saying why.
        message = `${options.message}\n\n(The last answer was refused: ${issuesText(parsed.error)})`;
      }
    },
    async sample(name, request, options = {}) {
      const id = idFor(name);
      const envelope = await pose(id, "sampling", name, request, options.timeoutMs);
      return (
        (envelope?.answer as SamplingAnswer | undefined) ??
        timedOut(id, options.timeoutMs ?? 0, options.onTimeout)
      );
    },
    async roots(name = "roots", options = {}) {
      const id = idFor(name);
      const envelope = await pose(id, "roots", name, {}, options.timeoutMs);
      return (
        (envelope?.answer as RootsAnswer | undefined) ??
        timedOut(id, options.timeoutMs ?? 0, options.onTimeout)
      );
    },
  };
}

/** Reads and answers the open questions of jobs, from any process on the store. */
export class Questions {
  private readonly promises: PromiseClient;

  constructor(promises: PromiseClient) {
    this.promises = promises;
  }

  /** The questions `jobId` (a pending job) waits on now, in the order it asked them. */
  async pending(jobId: string): Promise<Question[]> {
    return (await this.open(jobId)).map((entry) => entry.question);
  }

  /**
   * Delivers `answers` (question ID → answer) to the open questions of `jobId`, after checking every one of
   * them: an unknown question or an answer its schema refuses delivers nothing. Some of several open
   * questions may be answered now and the rest later. The caller has checked that the job is the caller's.
   */
  async answer(jobId: string, answers: Readonly<Record<string, unknown>>): Promise<AnswerOutcome> {
    const ids = Object.keys(answers);
    if (ids.length === 0) return invalid({ code: "no_answers" });
    const open = await this.open(jobId);
    const byId = new Map(open.map((entry) => [entry.question.id, entry]));
    const deliveries: { entry: IndexEntry; answer: Answer }[] = [];
    for (const id of ids) {
      const entry = byId.get(id);
      if (entry === undefined) {
        return invalid({ code: "no_such_question", questionId: id, open: open.map((e) => e.question.id) });
      }
      const checked = checkAnswer(entry.question, answers[id]);
      if (typeof checked === "string") return invalid({ code: "refused", questionId: id, issue: checked });
      deliveries.push({ entry, answer: checked });
    }
    for (const { entry, answer } of deliveries) {
      const settled = await this.promises.resolve(entry.promiseId, { answer } satisfies Envelope);
      if (!settled) return invalid({ code: "closed", questionId: entry.question.id });
    }
    return { status: "ok" };
  }

  /** The index entries of `jobId` whose awaited promise is still pending. */
  private async open(jobId: string): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for (let n = 0; ; n++) {
      const record = await this.promises.get(indexId(jobId, n));
      if (record === undefined) break;
      const entry = this.promises.param(record) as IndexEntry | undefined;
      if (entry?.question !== undefined) entries.push(entry);
    }
    const states = await Promise.all(entries.map((e) => this.promises.get(e.promiseId)));
    const now = Date.now();
    return entries.filter((entry, i) => {
      const record = states[i];
      if (record?.state !== "pending") return false;
      const { timeoutAt } = entry.question;
      return timeoutAt === undefined || timeoutAt > now;
    });
  }
}

function invalid(problem: AnswerProblem): AnswerOutcome {
  return { status: "invalid", problem };
}

/** The answer `value` to `question`, checked; or why it is refused. */
function checkAnswer(question: Question, value: unknown): Answer | string {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return "an answer is a JSON object.";
  const answer = value as Record<string, unknown>;
  switch (question.kind) {
    case "elicitation": {
      const { action } = answer;
      if (action === "decline" || action === "cancel") return { action };
      if (action !== "accept") return 'action must be "accept", "decline" or "cancel".';
      const request = question.request as ElicitationRequest;
      const reason = checkContent(request.requestedSchema, answer.content);
      return reason ?? { action: "accept", content: answer.content as Record<string, unknown> };
    }
    case "sampling": {
      if (answer.role !== "assistant") return 'role must be "assistant".';
      if (typeof answer.model !== "string") return "model must be the name of the model that answered.";
      if (answer.content === null || typeof answer.content !== "object") return "content must be an object.";
      return answer as SamplingAnswer;
    }
    case "roots": {
      const roots = answer.roots;
      if (!Array.isArray(roots) || roots.some((r) => typeof r?.uri !== "string")) {
        return "roots must be a list of { uri, name? }.";
      }
      return answer as RootsAnswer;
    }
  }
}

/** Why `content` does not fit `schema` (the restricted JSON Schema of an elicitation), or `undefined`. */
export function checkContent(schema: RequestedSchema, content: unknown): string | undefined {
  if (content === null || typeof content !== "object" || Array.isArray(content)) {
    return "content must be an object with the form's fields.";
  }
  const fields = content as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (fields[name] === undefined) return `${name} is required.`;
  }
  for (const [name, value] of Object.entries(fields)) {
    const property = schema.properties[name];
    if (property === undefined) {
      return `${name} is not a field of this form (fields: ${Object.keys(schema.properties).join(", ")}).`;
    }
    const reason = checkField(property, value);
    if (reason !== undefined) return `${name} ${reason}`;
  }
  return undefined;
}

function checkField(property: Record<string, unknown>, value: unknown): string | undefined {
  const options = enumOf(property);
  switch (property.type) {
    case "string": {
      if (typeof value !== "string") return "must be a string.";
      if (options !== undefined && !options.includes(value)) return `must be one of ${options.join(", ")}.`;
      if (typeof property.minLength === "number" && value.length < property.minLength) {
        return `must be at least ${property.minLength} characters.`;
      }
      if (typeof property.maxLength === "number" && value.length > property.maxLength) {
        return `must be at most ${property.maxLength} characters.`;
      }
      return undefined;
    }
    case "number":
    case "integer": {
      if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number.";
      if (property.type === "integer" && !Number.isInteger(value)) return "must be an integer.";
      if (typeof property.minimum === "number" && value < property.minimum)
        return `must be at least ${property.minimum}.`;
      if (typeof property.maximum === "number" && value > property.maximum)
        return `must be at most ${property.maximum}.`;
      return undefined;
    }
    case "boolean":
      return typeof value === "boolean" ? undefined : "must be true or false.";
    case "array": {
      const items = enumOf((property.items ?? {}) as Record<string, unknown>) ?? [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || !items.includes(v))) {
        return `must be a list of values among ${items.join(", ")}.`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The allowed values of an enumerated string property (`enum`, or `oneOf`/`anyOf` of `const`). */
function enumOf(property: Record<string, unknown>): string[] | undefined {
  if (Array.isArray(property.enum)) return property.enum.map(String);
  const choices = (property.oneOf ?? property.anyOf) as { const?: unknown }[] | undefined;
  if (Array.isArray(choices)) return choices.map((c) => String(c.const));
  return undefined;
}

const PRIMITIVES = new Set(["string", "number", "integer", "boolean"]);

/**
 * The `requestedSchema` of a form, converted by zod's own converter and checked against what MCP
 * elicitation allows (a flat object of primitives and enumerations). A schema outside that is a mistake in
 * the job's code: `INVALID_DEFINITION`, which fails the job with the reason.
 */
export function toRequestedSchema(schema: z.ZodObject, name: string): RequestedSchema {
  const refuse = (why: string) =>
    new AsyncToolsError(
      "INVALID_DEFINITION",
      `Question ${JSON.stringify(name)}: ${why} MCP elicitation forms take a flat z.object of strings, numbers, ` +
        "booleans, enums and arrays of enums.",
    );
  let json: Record<string, unknown>;
  try {
    json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" }) as Record<string, unknown>;
  } catch (error) {
    throw refuse(`its schema has no JSON Schema (${(error as Error).message}).`);
  }
  if (json.type !== "object" || json.properties === null || typeof json.properties !== "object") {
    throw refuse("its schema must be a z.object.");
  }
  const properties: Record<string, Record<string, unknown>> = {};
  for (const [key, raw] of Object.entries(json.properties as Record<string, Record<string, unknown>>)) {
    const { $schema: _ignored, ...property } = raw;
    const items = property.items as Record<string, unknown> | undefined;
    const fits =
      (typeof property.type === "string" && PRIMITIVES.has(property.type)) ||
      (property.type === "array" &&
        items !== undefined &&
        items.type === "string" &&
        enumOf(items) !== undefined);
    if (!fits) throw refuse(`the field ${JSON.stringify(key)} is not a primitive or an enumeration.`);
    properties[key] = property;
  }
  const required = Array.isArray(json.required) ? (json.required as string[]) : [];
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(form)"}: ${i.message}`).join("; ");
}
