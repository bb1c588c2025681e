/**
 * Keeps the lease of every task this process executes, including the one `Resonate.run` executes directly.
 *
 * The Resonate SDK (0.11.5) renews a task's lease with heartbeats only for tasks that reach it through an
 * `execute` message (`Core.onMessage`). `Resonate.run`/`beginRun` creates the task already acquired and hands
 * it to `Core.executeUntilBlocked` without a heartbeat, so a step longer than the lease (`ttl`) loses it and
 * the store gives the task to a second attempt while the first still runs. Wrapping `executeUntilBlocked`
 * starts the heartbeat for every execution; for tasks that came through `onMessage` the extra start and stop
 * are no-ops, because the heartbeat keys tasks by ID and version. Reported upstream: see docs/architecture.md.
 */
import type { Resonate } from "@resonatehq/sdk/async";

/** The task shape the SDK's heartbeat tracks. */
interface AcquiredTask {
  id: string;
  version: number;
}

/** The private parts of the SDK's async engine this file relies on. */
interface CoreInternals {
  heartbeat: { start(task: AcquiredTask): void; stop(task: AcquiredTask): void };
  executeUntilBlocked(task: AcquiredTask, ...rest: unknown[]): Promise<unknown>;
}

const PATCHED = Symbol.for("async-tools.hold-leases");

/**
 * Makes `resonate` heartbeat every task it executes. Throws when the SDK no longer has the shape relied on,
 * so an SDK upgrade that moves it fails loudly in tests instead of silently running steps twice.
 */
export function holdLeases(resonate: Resonate): void {
  const core = (resonate as unknown as { core?: CoreInternals & { [PATCHED]?: true } }).core;
  if (
    core === undefined ||
    typeof core.executeUntilBlocked !== "function" ||
    typeof core.heartbeat?.start !== "function" ||
    typeof core.heartbeat?.stop !== "function"
  ) {
    throw new Error(
      "@resonatehq/sdk changed: Resonate.core.executeUntilBlocked/heartbeat not found; leases cannot be held",
    );
  }
  if (core[PATCHED]) return;
  const execute = core.executeUntilBlocked.bind(core);
  const heartbeat = core.heartbeat;
  core.executeUntilBlocked = async (task, ...rest) => {
    heartbeat.start(task);
    try {
      return await execute(task, ...rest);
    } finally {
      heartbeat.stop(task);
    }
  };
  core[PATCHED] = true;
}
