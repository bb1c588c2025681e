/**
 * A job's questions asked in the call itself (protocol 2026-07-28, multi round-trip requests, SEP-2322): a
 * call of a task tool whose job asks answers `resultType: "input_required"` with the job's open questions as
 * `inputRequests` and a signed `requestState` naming the job; the client's retry carries `inputResponses`,
 * which are delivered to the job as durable answers, and the call goes on waiting. The job, not the request,
 * holds the state: a retry reaches it after a restart of the server or through another replica.
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { AnyAsyncTool } from "../../define.ts";
import { type CallerScope, isUnfinished, type JobSnapshot } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { awaitBounds } from "../await-bounds.ts";
import { ProgressReporter } from "../progress-reporter.ts";
import { toolResultOf } from "../tasks/job-task.ts";
import { answerProblemText, type JobToolNames, questionsNote, stillRunningText } from "../text.ts";
import type { ProgressUpdate } from "../tools/spec.ts";
import { fail } from "../wire.ts";
import { answersOf, askableKinds, type InputRequests, inputRequestsOf } from "./input-requests.ts";
import type { RequestStates } from "./request-state.ts";

/** A task tool as the rounds need it. */
export interface RoundTool {
  /** The task tool's name, bound into each round's state. */
  name: string;
  tool: AnyAsyncTool;
  names: JobToolNames;
}

/** One call: its tool, arguments and caller, and its progress relay if the client asked for progress. */
export interface RoundCall {
  target: RoundTool;
  input: Record<string, unknown>;
  fresh: boolean;
  caller: CallerScope;
  progress?: (update: ProgressUpdate) => void;
}

/** An `input_required` result. */
interface InputRequired {
  resultType: "input_required";
  inputRequests: InputRequests;
  requestState: string;
}

/** The multi-round-trip side of the task tools of one runtime. */
export class InputRounds {
  private readonly engine: JobEngine;
  private readonly states: () => Promise<RequestStates>;

  /** `states`: the runtime's request states (their key is read from the store on first use). */
  constructor(engine: JobEngine, states: () => Promise<RequestStates>) {
    this.engine = engine;
    this.states = states;
  }

  /**
   * A plain 2026-07-28 call of a task tool: waits for the job like the await tool (up to the same bound), and
   * answers its result, or `input_required` when the job asks something this client can answer, or the tool
   * error that says how to keep waiting. A retry with `requestState` goes on with the job it names; its
   * `inputResponses` are answers to the job's open questions (responses to other keys are ignored).
   */
  async plainCall(call: RoundCall, ctx: ServerContext): Promise<object> {
    const { target } = call;
    const jobId = await this.jobOf(call, ctx);
    const waitMs = awaitBounds([target.tool]).defaultMs;
    const deadline = Date.now() + waitMs;
    const reporter = call.progress ? new ProgressReporter(call.progress) : undefined;
    const responses = { ...(ctx.mcpReq.inputResponses ?? {}) };
    for (;;) {
      const [snapshot] = await this.engine.wait([jobId], Math.max(0, deadline - Date.now()), {
        signal: ctx.mcpReq.signal,
        ...call.caller,
        ...(reporter === undefined ? {} : { onTick: (current: JobSnapshot[]) => reporter.tick(current) }),
      });
      if (snapshot === undefined) throw taskNotFound(jobId);
      if (snapshot.status === "input_required" && (await this.deliver(snapshot, responses, call.caller))) {
        continue;
      }
      if (snapshot.status === "input_required") {
        const asked = await this.ask(snapshot, call, ctx);
        if (asked !== undefined) return asked;
      }
      // A question this client cannot be asked: what the job asks, and how to answer it another way.
      if (snapshot.status === "input_required") {
        return fail(`Job ${jobId} waits for an answer.${questionsNote([snapshot], target.names)}`);
      }
      if (isUnfinished(snapshot.status)) return fail(stillRunningText(jobId, waitMs, target.names));
      return toolResultOf(snapshot, target.tool, target.names.start);
    }
  }

  /**
   * A 2026-07-28 call of a task tool that declares the Tasks extension and takes part in rounds: it carries
   * `requestState` or `inputResponses`, or its definition has `inputBeforeTask`. A retry delivers its answers
   * and answers the task at once (a later question shows on the task, for `tasks/update`). A first call of an
   * `inputBeforeTask` definition waits (up to the await bound) for the job to ask or finish, and asks the
   * job's questions in the call itself; the task comes once they are answered.
   */
  async taskCall(
    call: RoundCall,
    ctx: ServerContext,
    task: (snapshot: JobSnapshot) => object,
  ): Promise<object> {
    const jobId = await this.jobOf(call, ctx);
    const responses = { ...(ctx.mcpReq.inputResponses ?? {}) };
    const askFirst = call.target.tool.inputBeforeTask === true && ctx.mcpReq.requestState() === undefined;
    const waitMs = askFirst ? awaitBounds([call.target.tool]).defaultMs : 0;
    let [snapshot] = await this.engine.wait([jobId], waitMs, { signal: ctx.mcpReq.signal, ...call.caller });
    if (snapshot === undefined) throw taskNotFound(jobId);
    if (snapshot.status === "input_required" && (await this.deliver(snapshot, responses, call.caller))) {
      snapshot = await this.engine.snapshot(jobId, false, call.caller);
    } else if (askFirst && snapshot.status === "input_required") {
      const asked = await this.ask(snapshot, call, ctx);
      if (asked !== undefined) return asked;
    }
    return task(snapshot);
  }

  /** The job of a call: the one its `requestState` names, else the one its arguments start or join. */
  private async jobOf(call: RoundCall, ctx: ServerContext): Promise<string> {
    const state = ctx.mcpReq.requestState<unknown>();
    if (state === undefined) {
      const started = await this.engine.start(call.target.tool, call.input, {
        fresh: call.fresh,
        ...call.caller,
      });
      return started.jobId;
    }
    if (typeof state !== "string") {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid requestState: it must be a string.");
    }
    const round = await (await this.states()).verify(state, ctx);
    if (round.tool !== call.target.name) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid requestState: it belongs to a call of ${round.tool}, not ${call.target.name}.`,
      );
    }
    return round.job;
  }

  /**
   * Delivers the responses that answer open questions of the job (each response once); whether any did. An
   * answer its question refuses is -32602 with the reason, and nothing is delivered.
   */
  private async deliver(
    snapshot: JobSnapshot,
    responses: Record<string, unknown>,
    caller: CallerScope,
  ): Promise<boolean> {
    const answers = answersOf(snapshot.questions ?? [], snapshot.jobId, responses);
    const ids = Object.keys(answers);
    if (ids.length === 0) return false;
    for (const id of ids) delete responses[id.slice(snapshot.jobId.length + 1)];
    const outcome = await this.engine.answer(snapshot.jobId, answers, caller);
    if (outcome.status === "not_found") throw taskNotFound(snapshot.jobId);
    if (outcome.status === "invalid")
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        answerProblemText(snapshot.jobId, outcome.problem),
      );
    return true;
  }

  /**
   * The `input_required` result for the job's open questions this client can answer (its capabilities), or
   * `undefined` when it can answer none of them.
   */
  private async ask(
    snapshot: JobSnapshot,
    call: RoundCall,
    ctx: ServerContext,
  ): Promise<InputRequired | undefined> {
    const inputRequests = inputRequestsOf(snapshot.questions ?? [], snapshot.jobId, askableKinds(ctx));
    const keys = Object.keys(inputRequests);
    if (keys.length === 0) return undefined;
    const requestState = await (await this.states()).mint(
      { job: snapshot.jobId, tool: call.target.name, keys },
      ctx,
    );
    return { resultType: "input_required", inputRequests, requestState };
  }
}

function taskNotFound(jobId: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Job ${jobId} was not found.`);
}
