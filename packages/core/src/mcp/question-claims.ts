/**
 * Who asks a client a job's question right now: a claim in the store, so two sessions (of this process or of
 * others on the same store) never send the same question at once. Time is cut in slots of
 * {@link DEFAULTS.questionClaimMs}; a claim of a slot is a promise whose ID names the question and the slot, so
 * the store lets exactly one holder create it. A holder takes the current slot and the next, and the one after
 * at each slot's start while its client thinks; a holder that died (a SIGKILLed server) lets go within two slots.
 */
import { DEFAULTS } from "../defaults.ts";
import type { PromiseClient } from "../runtime/promise-client.ts";

/** The tag naming a claim's holder. */
const HOLDER_TAG = "async-tools:asker";

/** Takes and keeps claims on questions in the store of `promises`. */
export class QuestionClaims {
  private readonly promises: PromiseClient;
  private readonly slotMs: number;

  constructor(promises: PromiseClient, slotMs: number = DEFAULTS.questionClaimMs) {
    this.promises = promises;
    this.slotMs = slotMs;
  }

  /**
   * Claims the question `questionId` of job `jobId` for `holder`: a function that lets go of it, or `undefined`
   * when another holder asks it now (or the store cannot say).
   */
  async claim(jobId: string, questionId: string, holder: string): Promise<(() => void) | undefined> {
    const slot = Math.floor(Date.now() / this.slotMs);
    if (!(await this.take(jobId, questionId, holder, slot))) return undefined;
    await this.take(jobId, questionId, holder, slot + 1);
    const renew = setInterval(() => {
      const next = Math.floor(Date.now() / this.slotMs) + 1;
      void this.take(jobId, questionId, holder, next);
    }, this.slotMs);
    renew.unref();
    return () => clearInterval(renew);
  }

  /** Whether `holder` holds `slot` of the question: it created its claim now, or had already. */
  private async take(jobId: string, questionId: string, holder: string, slot: number): Promise<boolean> {
    const id = `${questionId}:claim.${slot}`;
    try {
      await this.promises.create(id, (slot + 1) * this.slotMs, null, {
        [HOLDER_TAG]: holder,
        // With the job's lineage, so retention removes the claims with the job.
        "resonate:origin": jobId,
      });
      const stored = await this.promises.get(id);
      return stored?.state === "pending" && stored.tags?.[HOLDER_TAG] === holder;
    } catch {
      return false;
    }
  }
}
