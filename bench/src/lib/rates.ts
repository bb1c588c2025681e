/**
 * Throughput of two candidates measured the same way: submitters each looping submit-then-wait for a window,
 * in rounds that alternate which candidate goes first, so a machine that slows down mid-run hurts both alike.
 */
import type { Check } from "./scenario.ts";
import { showRatio, showSpread, spread } from "./stats.ts";
import { deadline } from "./time.ts";

/**
 * Runs `submit` in a loop from `submitters` concurrent loops for `ms`; returns completions per second. Each loop
 * passes its own index (0 to `submitters` - 1), e.g. to use its own connection.
 */
export async function rate(
  submitters: number,
  ms: number,
  submit: (submitter: number) => Promise<void>,
): Promise<number> {
  return (await window(submitters, ms, submit)).perSecond;
}

/**
 * {@link rate}, and the CPU time this process spent per completion meanwhile (user and system, every thread):
 * unlike the rate it barely moves with the load other processes put on the machine.
 */
export async function window(
  submitters: number,
  ms: number,
  submit: (submitter: number) => Promise<void>,
): Promise<{ perSecond: number; cpuUsPerJob: number; systemUsPerJob: number; jobs: number }> {
  const until = deadline(ms);
  const cpu = process.cpuUsage();
  const began = performance.now();
  const counts = await Promise.all(
    Array.from({ length: submitters }, async (_, submitter) => {
      let done = 0;
      while (!until.passed()) {
        await submit(submitter);
        done++;
      }
      return done;
    }),
  );
  const used = process.cpuUsage(cpu);
  const jobs = counts.reduce((a, b) => a + b, 0);
  return {
    perSecond: jobs / ((performance.now() - began) / 1000),
    cpuUsPerJob: (used.user + used.system) / jobs,
    systemUsPerJob: used.system / jobs,
    jobs,
  };
}

/**
 * `rounds` interleaved windows of `windowMs` for `ours` and `theirs` with `submitters` loops each, after a
 * short warm-up of both; the completions per second of each round, and this process's CPU per job of ours
 * (the peer's side idles meanwhile: its server is another process, its client waits on it).
 */
export async function interleaved(
  submitters: number,
  rounds: number,
  windowMs: number,
  ours: () => Promise<void>,
  theirs: () => Promise<void>,
): Promise<{ oursRates: number[]; theirRates: number[]; oursCpu: number[] }> {
  await rate(submitters, 300, ours);
  await rate(submitters, 300, theirs);
  const oursRates: number[] = [];
  const theirRates: number[] = [];
  const oursCpu: number[] = [];
  const measureOurs = async () => {
    const measured = await window(submitters, windowMs, ours);
    oursRates.push(measured.perSecond);
    oursCpu.push(measured.cpuUsPerJob);
  };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      await measureOurs();
      theirRates.push(await rate(submitters, windowMs, theirs));
    } else {
      theirRates.push(await rate(submitters, windowMs, theirs));
      await measureOurs();
    }
  }
  return { oursRates, theirRates, oursCpu };
}

/**
 * Ours against a peer (`peer` names it in figures, `against` in check names) with 1 and 32 submitters: a table
 * row, figures and a ">= the peer" check per submitter count. The figures carry our CPU per job; with
 * `plan.cpuColumn` the rows do too, as their last column.
 */
export async function versus(
  peer: string,
  against: string,
  plan: { rounds: number; windowMs: number; cpuColumn?: boolean },
  ours: () => Promise<void>,
  theirs: () => Promise<void>,
): Promise<{ rows: string[][]; figures: Record<string, unknown>[]; checks: Check[] }> {
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: Check[] = [];
  for (const submitters of [1, 32]) {
    const { oursRates, theirRates, oursCpu } = await interleaved(
      submitters,
      plan.rounds,
      plan.windowMs,
      ours,
      theirs,
    );
    const ratio = spread(oursRates.map((r, i) => r / (theirRates[i] ?? Number.NaN)));
    rows.push([
      String(submitters),
      showSpread(spread(oursRates), 0),
      showSpread(spread(theirRates), 0),
      showRatio(ratio),
      ...(plan.cpuColumn === true ? [showSpread(spread(oursCpu), 0)] : []),
    ]);
    figures.push({
      submitters,
      ours_jobs_per_s: spread(oursRates),
      ours_cpu_us_per_job: spread(oursCpu),
      [`${peer}_jobs_per_s`]: spread(theirRates),
      [`ours_vs_${peer}`]: ratio,
    });
    checks.push({
      name: `3-step jobs/s >= ${against} (${submitters} submitter${submitters > 1 ? "s" : ""})`,
      ok: ratio.median >= 1,
      detail: showRatio(ratio),
    });
  }
  return { rows, figures, checks };
}
