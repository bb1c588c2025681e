/**
 * The in-process side of the store's change feed (`ChangeFeed` in store.ts): a hub the backends emit the jobs
 * their commits changed into, the rule for which promise changes are a job's change (its own promise and its
 * questions; not every step, which would wake every reader at each step), and the reading of a change that
 * came from elsewhere (a Postgres notice, the owner's relay to a process that joined its file).
 */
import { log } from "../internal/log.ts";
import {
  type ChangedJobs,
  type ChangeFeed,
  type JobChange,
  type JobChangeKind,
  PRINCIPAL_TAG,
  QUESTION_TAG,
} from "./store.ts";

/** A change feed fed by this process: listeners hear each {@link ChangeHub.emit}. */
export class ChangeHub implements ChangeFeed {
  private readonly listeners = new Set<(changed: ChangedJobs) => void>();
  private readonly completeNow: () => boolean;

  /** `complete` says whether the feed is complete now (see {@link ChangeFeed.complete}); by default never. */
  constructor(complete: () => boolean = () => false) {
    this.completeNow = complete;
  }

  get complete(): boolean {
    return this.completeNow();
  }

  subscribe(listener: (changed: ChangedJobs) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether anyone listens: a backend skips working out the changed jobs when no one does. */
  get listening(): boolean {
    return this.listeners.size > 0;
  }

  /** Tells every listener; an empty list tells no one. */
  emit(changed: ChangedJobs): void {
    if (changed !== "any" && changed.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changed);
      } catch (error) {
        log("error", "a change feed listener threw", { error });
      }
    }
  }
}

/** The least of a promise the feed needs to tell its job's change. */
interface ChangedPromise {
  id: string;
  state: string;
  tags: Readonly<Record<string, string>>;
}

/**
 * The job change a change of `promise` is: of the job's own promise (its origin is itself), created or settled,
 * or of one of its questions; `undefined` for anything else (a step, a sleep). `root` gives the job's own promise
 * when the feed holds it, for a question's principal.
 */
export function changeOfPromise(
  promise: ChangedPromise,
  root: (id: string) => ChangedPromise | undefined,
): JobChange | undefined {
  const origin = promise.tags["resonate:origin"] ?? promise.id;
  if (origin === promise.id) {
    const what = promise.state === "pending" ? "created" : "settled";
    return { id: origin, what, principal: principalOf(promise) };
  }
  if (promise.tags[QUESTION_TAG] === undefined) return undefined;
  const job = root(origin);
  return job === undefined
    ? { id: origin, what: "question" }
    : { id: origin, what: "question", principal: principalOf(job) };
}

function principalOf(promise: ChangedPromise): string {
  return promise.tags[PRINCIPAL_TAG] ?? "";
}

/** Whether `change` may be its job's settle: a reader that only cares whether a job ended skips the others. */
export function maySettle(change: JobChange): boolean {
  return change.what === "settled" || change.what === "changed";
}

const KINDS: ReadonlySet<string> = new Set<JobChangeKind>([
  "created",
  "settled",
  "question",
  "progress",
  "changed",
]);

/**
 * A change as another process sent it: `{id, what, principal?}`, or a job's ID alone (an older store's notice,
 * any change of the job); `undefined` for what is neither.
 */
export function changeFrom(sent: unknown): JobChange | undefined {
  if (typeof sent === "string") return sent === "" ? undefined : { id: sent, what: "changed" };
  if (typeof sent !== "object" || sent === null) return undefined;
  const { id, what, principal } = sent as Record<string, unknown>;
  if (typeof id !== "string" || id === "") return undefined;
  const kind = typeof what === "string" && KINDS.has(what) ? (what as JobChangeKind) : "changed";
  return typeof principal === "string" ? { id, what: kind, principal } : { id, what: kind };
}
