/**
 * The in-process side of the store's change feed (`ChangeFeed` in store.ts): a hub the backends emit the jobs
 * their commits changed into, and the rule for which promise changes are a job's change (its own promise and
 * its questions; not every step, which would wake every reader at each step).
 */
import { log } from "../internal/log.ts";
import { type ChangedJobs, type ChangeFeed, QUESTION_TAG } from "./store.ts";

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

/**
 * The job whose change a change of the promise `id` (with `tags`) is: the job's own promise (its origin is
 * itself) or one of its questions; `undefined` for anything else (a step, a sleep).
 */
export function jobOfPromise(id: string, tags: Readonly<Record<string, string>>): string | undefined {
  const origin = tags["resonate:origin"] ?? id;
  return origin === id || tags[QUESTION_TAG] !== undefined ? origin : undefined;
}
