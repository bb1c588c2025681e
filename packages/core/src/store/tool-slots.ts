/**
 * The concurrency slots of one tool, as the runtime uses them: a job acquires a slot before it runs and releases
 * it when done; a job waiting for one has a place in line. A store whose processes share work across machines
 * (Postgres) holds them for every replica; otherwise they live in the process (`runtime/slots.ts`).
 */

/** Slots of one tool. */
export interface ToolSlots {
  /** Resolves when `id` may run (rejects with the signal's reason if it aborts first); call the result when done. */
  acquire(id: string, signal?: AbortSignal): Promise<() => void>;
  /** 1-based place of `id` among the waiting jobs of the tool, or `undefined` when it is not waiting. */
  position(id: string): number | undefined | Promise<number | undefined>;
}
