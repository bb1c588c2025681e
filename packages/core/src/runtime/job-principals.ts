/**
 * Whose each job is, as far as this process knows: noted when it starts a job, and read once from the store
 * for a job another process started. A reader that follows one principal's jobs on the change feed (a session
 * asked while idle) skips the others' changes at the cost of a map lookup instead of a store read.
 */
import { DEFAULTS } from "../defaults.ts";
import { PRINCIPAL_TAG } from "./job.ts";
import type { PromiseClient } from "./promise-client.ts";

/** The principal of jobs without one, as the job index writes it. */
const NONE = "";

/**
 * The principal of each job this process has met (`""` for none), the latest {@link DEFAULTS.jobPrincipalsKept}
 * of them. A job's principal is part of its identity and never changes, so nothing known goes stale.
 *
 * @example
 * ```ts
 * const principals = new JobPrincipals();
 * principals.note("weather_data-3f2a9c1e0b7d4a55", "alice");
 * await principals.of("weather_data-3f2a9c1e0b7d4a55", promises); // "alice", without a read
 * ```
 */
export class JobPrincipals {
  private readonly known = new Map<string, string>();
  private readonly reading = new Map<string, Promise<string | undefined>>();
  private readonly kept: number;

  constructor(kept: number = DEFAULTS.jobPrincipalsKept) {
    this.kept = kept;
  }

  /** Notes that `jobId` belongs to `principal` (`undefined`: none). */
  note(jobId: string, principal: string | undefined): void {
    this.known.delete(jobId);
    this.known.set(jobId, principal ?? NONE);
    if (this.known.size > this.kept) {
      const oldest = this.known.keys().next().value as string;
      this.known.delete(oldest);
    }
  }

  /** The principal of `jobId` (`""` for none) if this process knows it; `undefined` when it does not. */
  peek(jobId: string): string | undefined {
    return this.known.get(jobId);
  }

  /**
   * The principal of `jobId` (`""` for none), read from its promise through `promises` when not known yet (one
   * read however many ask at once); `undefined` when the store has no such job.
   */
  async of(jobId: string, promises: PromiseClient): Promise<string | undefined> {
    const known = this.known.get(jobId);
    if (known !== undefined) return known;
    let reading = this.reading.get(jobId);
    if (reading === undefined) {
      reading = promises
        .get(jobId)
        .then((record) => {
          if (record === undefined) return undefined;
          const principal = record.tags?.[PRINCIPAL_TAG] ?? NONE;
          this.note(jobId, principal);
          return principal;
        })
        .finally(() => this.reading.delete(jobId));
      this.reading.set(jobId, reading);
    }
    return reading;
  }
}
