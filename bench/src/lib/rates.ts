/**
 * Throughput of two candidates measured the same way: submitters each looping submit-then-wait for a window,
 * in rounds that alternate which candidate goes first, so a machine that slows down mid-run hurts both alike.
 */
import { deadline } from "./time.ts";

/** Runs `submit` in a loop from `submitters` concurrent loops for `ms`; returns completions per second. */
export async function rate(submitters: number, ms: number, submit: () => Promise<void>): Promise<number> {
  const until = deadline(ms);
  const began = performance.now();
  const counts = await Promise.all(
    Array.from({ length: submitters }, async () => {
      let done = 0;
      while (!until.passed()) {
        await submit();
        done++;
      }
      return done;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - began) / 1000);
}

/**
 * `rounds` interleaved windows of `windowMs` for `ours` and `theirs` with `submitters` loops each, after a
 * short warm-up of both; the completions per second of each round.
 */
export async function interleaved(
  submitters: number,
  rounds: number,
  windowMs: number,
  ours: () => Promise<void>,
  theirs: () => Promise<void>,
): Promise<{ oursRates: number[]; theirRates: number[] }> {
  await rate(submitters, 300, ours);
  await rate(submitters, 300, theirs);
  const oursRates: number[] = [];
  const theirRates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      oursRates.push(await rate(submitters, windowMs, ours));
      theirRates.push(await rate(submitters, windowMs, theirs));
    } else {
      theirRates.push(await rate(submitters, windowMs, theirs));
      oursRates.push(await rate(submitters, windowMs, ours));
    }
  }
  return { oursRates, theirRates };
}
