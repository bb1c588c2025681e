/**
 * What each harness scenario gives back: a printed table, figures for the JSON file, and checks (targets
 * for the benchmarks, pass/fail for the reliability suite).
 */

/** A target or a property, with whether it held and the measured figure it was judged on. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** The check could not run on this machine (e.g. no permission to mount); it counts as neither. */
  skipped?: boolean;
  /**
   * A property beyond the criteria that exposes a known library defect: printed as WARN, it does not
   * fail the run. The detail says what is wrong.
   */
  warnOnly?: boolean;
}

/** The outcome of one scenario. */
export interface ScenarioResult {
  name: string;
  table: string;
  figures: Record<string, unknown>;
  checks: Check[];
}

/** Sizes and durations of a run: the full one, or the smaller `--quick` / `--short` one. */
export interface RunOptions {
  quick: boolean;
  /** Seed of every random choice of the reliability suite. */
  seed?: number;
}

/**
 * The result of a scenario that cannot run on this machine (`why`: a missing service it could not install):
 * said on stderr, printed as `title: skipped`, and each of its `targets` counted as skipped, neither met nor
 * missed.
 */
export function skippedScenario(name: string, title: string, why: string, targets: string[]): ScenarioResult {
  process.stderr.write(`bench: ${name} skipped: ${why}\n`);
  return {
    name,
    table: `\n${title}: skipped (${why})`,
    figures: { skipped: why },
    checks: targets.map((target) => ({ name: target, ok: true, skipped: true, detail: why })),
  };
}

let next = 1;

/** A number never used before in this run, to make a job input (and so its job) new. */
export function fresh(): number {
  return next++;
}
