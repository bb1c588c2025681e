/**
 * Asking a connected client that waits on nothing: while a 2025-11-25 session that can be asked is open (and
 * its transport can carry a request the server starts), the unfinished jobs of its principal are followed in
 * the store (woken by its change feed, see `ChangeWatch`, for its principal's jobs only: each notice says whose
 * job changed), and each question they open is sent to the client through its {@link ClientQuestions}, which
 * claims it first, so no two sessions ask it at once. A question the client did not answer is not sent to the
 * same session again; a new session (after a restart, say) asks it again.
 */
import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool } from "../define.ts";
import { log } from "../internal/log.ts";
import { ChangeWatch } from "../runtime/change-watch.ts";
import { type CallerScope, ownedBy } from "../runtime/job.ts";
import type { JobEngine } from "../runtime/job-engine.ts";
import { Questions } from "../runtime/questions.ts";
import { errorText } from "../runtime/step-retry.ts";
import { type AskClient, ClientQuestions } from "./client-questions.ts";
import type { QuestionClaims } from "./question-claims.ts";

/** Options of {@link pushQuestions}. */
export interface PushOptions {
  /** Ends the following (the session closed). */
  signal: AbortSignal;
  /** Whether the client can be sent a request now (an HTTP session needs its GET stream open). */
  canSend: () => boolean;
  /** How often the store is read when it has no change feed. Default {@link DEFAULTS.questionPushCheckMs}. */
  checkMs?: number;
  /** How often everything is read anyway when it has one. Default {@link DEFAULTS.changeRecheckMs}. */
  recheckMs?: number;
}

/** Rows of the job index read per page while looking for new jobs of the principal. */
const PAGE = 100;

/**
 * Follows the unfinished jobs of `scope`'s principal (those that may still be running: started within the
 * longest job timeout of the engine's definitions, or later) until `signal` aborts, and asks `asker` every
 * question they open.
 */
export function pushQuestions(
  engine: JobEngine,
  asker: ClientQuestions,
  scope: CallerScope,
  options: PushOptions,
): void {
  const { signal } = options;
  const mine = scope.principal ?? "";
  const questions = new Questions(engine.promises);
  const followed = new Set<string>();
  const seen = new Set<string>();
  const unanswered = new Set<string>();
  const longest = Math.max(0, ...engine.definitions().map((d: AnyAsyncTool) => d.timeoutMs));
  const since = Date.now() - longest;
  let cursor: number | undefined;

  const discover = async () => {
    for (;;) {
      const page = await engine.meta.list({
        limit: PAGE,
        since,
        principal: mine,
        ...(cursor === undefined ? {} : { cursor }),
      });
      // The index gives no cursor past its last page, so that page comes again: each job is followed once.
      for (const row of page.rows) {
        if (seen.has(row.id)) continue;
        seen.add(row.id);
        followed.add(row.id);
      }
      if (page.next === undefined) return;
      cursor = page.next;
    }
  };

  const look = async (jobId: string) => {
    const record = await engine.promises.get(jobId);
    if (record !== undefined) seen.add(jobId);
    if (record === undefined || record.state !== "pending" || !ownedBy(record, scope)) {
      followed.delete(jobId);
      return;
    }
    for (const question of await questions.pending(jobId)) {
      if (unanswered.has(question.id) || signal.aborted) continue;
      void asker.ask(jobId, question, signal).then((outcome) => {
        if (outcome === "unanswered") unanswered.add(question.id);
      });
    }
  };

  /** Follows the jobs among `ids` not seen yet: `look` reads each and keeps only this principal's. */
  const meet = (ids: Iterable<string>) => {
    for (const id of ids) if (!seen.has(id)) followed.add(id);
  };

  // Another principal's job changes are skipped unread; a notice that does not say whose (one of an older
  // store) costs a read of the job, once.
  const concerns = (_id: string, { principal }: { principal?: string }) =>
    principal === undefined || principal === mine;
  const watch = new ChangeWatch(engine.changes, concerns, {
    readAllFirst: true,
    pollMs: options.checkMs ?? DEFAULTS.questionPushCheckMs,
    ...(options.recheckMs === undefined ? {} : { recheckMs: options.recheckMs }),
  });
  void (async () => {
    // A round the client could not be sent a request in is made up for in full at the next one.
    let missed = false;
    try {
      for (
        let changed = await watch.next(signal);
        changed !== undefined;
        changed = await watch.next(signal)
      ) {
        if (!options.canSend()) {
          missed = true;
          continue;
        }
        const all = changed === "all" || missed;
        missed = false;
        try {
          if (all) await discover();
          else meet(changed as ReadonlySet<string>);
          for (const jobId of followed) {
            if (signal.aborted) break;
            if (all || (changed as ReadonlySet<string>).has(jobId)) await look(jobId);
          }
        } catch (error) {
          missed = true;
          log("debug", "looking for questions to ask the client failed", { error: errorText(error) });
        }
      }
    } finally {
      watch.close();
    }
  })();
}

/** What {@link askWhileIdle} needs of a session's SDK `Server` (the same in both generations). */
export interface SessionServer {
  oninitialized?: (() => void) | undefined;
  onclose?: (() => void) | undefined;
  readonly transport?: unknown;
}

/** A session that may be asked while idle. */
export interface IdleSession {
  /** The session's asker, for a call of `principal`, when the server can send the client requests now. */
  askerFor(principal: string | undefined): ClientQuestions | undefined;
}

/**
 * Once the client of `server`'s session has initialized, if it can be asked (`send` gives how), follows the
 * jobs of its principal (`principal` reads the one that initialized) and asks it their questions while the
 * session is open ({@link pushQuestions}); stops when the session closes.
 */
export function askWhileIdle(
  engine: JobEngine,
  claims: QuestionClaims,
  server: SessionServer,
  session: { principal: () => string | undefined; send: () => AskClient | undefined },
): IdleSession {
  let asking: { asker: ClientQuestions; principal: string | undefined } | undefined;
  const closed = new AbortController();
  const { oninitialized, onclose } = server;
  server.oninitialized = () => {
    oninitialized?.();
    const send = session.send();
    if (send === undefined) return;
    const principal = session.principal();
    const scope: CallerScope = principal === undefined ? {} : { principal };
    const asker = new ClientQuestions(engine, claims, send, scope);
    asking = { asker, principal };
    pushQuestions(engine, asker, scope, { signal: closed.signal, canSend: () => canSendAnytime(server) });
  };
  server.onclose = () => {
    closed.abort();
    asking = undefined;
    onclose?.();
  };
  return {
    askerFor: (principal) =>
      asking !== undefined && asking.principal === principal && canSendAnytime(server)
        ? asking.asker
        : undefined,
  };
}

/**
 * Whether the server can send the client of `server` a request of its own (not on a request's response
 * stream) now: always over stdio and in memory; over Streamable HTTP only in a session whose standalone GET
 * stream is open, since the web-standard transports of both SDK generations drop silently what they cannot
 * send there. This reads their private fields; a transport without them gets `false` (the client is then
 * asked only while it waits in a call), which the HTTP tests catch.
 */
export function canSendAnytime(server: SessionServer): boolean {
  const transport = server.transport as
    | {
        handleRequest?: unknown;
        sessionId?: string;
        _streamMapping?: unknown;
        _standaloneSseStreamId?: string;
      }
    | undefined;
  if (transport === undefined) return false;
  if (transport.handleRequest === undefined) return true;
  const streams = transport._streamMapping;
  return (
    transport.sessionId !== undefined &&
    streams instanceof Map &&
    transport._standaloneSseStreamId !== undefined &&
    streams.has(transport._standaloneSseStreamId)
  );
}
