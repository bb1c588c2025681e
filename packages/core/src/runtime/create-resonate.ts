/**
 * The one place a Resonate instance is built: it is constructed here, every patch of `resonate-internals.ts`
 * is installed on it once, and it is handed over ready. Each patch's defect has a canary in
 * `resonate-canaries.test.ts`.
 */
import { Resonate } from "@resonatehq/sdk/async";
import {
  type CreateOutcome,
  type ExecutionHooks,
  installExecutionHooks,
  memoizeTargets,
  observeTaskCreate,
  speedUpCodec,
} from "./resonate-internals.ts";

/** What the runtime decides about what the SDK leaves to it: executions it cannot run, and creations. */
export interface ResonateHooks extends ExecutionHooks {
  /** What a creation by `run` found, before the SDK executes anything (see `observeTaskCreate`). */
  created(outcome: CreateOutcome): void;
}

/** The options of the SDK's `Resonate` constructor. */
export type ResonateConfig = ConstructorParameters<typeof Resonate>[0];

/** A Resonate instance with every patch installed. */
export function createResonate(config: ResonateConfig, hooks: ResonateHooks): Resonate {
  const resonate = new Resonate(config);
  memoizeTargets(resonate);
  speedUpCodec((resonate as unknown as { codec?: unknown }).codec);
  observeTaskCreate(resonate, (outcome) => hooks.created(outcome));
  installExecutionHooks(resonate, hooks);
  return resonate;
}
