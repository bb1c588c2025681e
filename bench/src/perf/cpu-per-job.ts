/**
 * CPU per completed three-step job, alone, for profiling: the runtime on the SQLite store (programmatic API,
 * as in the BullMQ comparison) with `submitters` each looping start then wait, after a warm-up; prints this
 * process's CPU time per job (user and system) and jobs per second as one JSON line. With a fifth argument it
 * also writes a CPU profile of the measured window alone (no start-up, no warm-up) to that file.
 *
 * ```sh
 * cd bench && ASYNC_TOOLS_LOG=warn node --conditions=@async-tools/source src/perf/cpu-per-job.ts 32 10 normal /tmp/32.cpuprofile
 * ```
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createAsyncTools } from "@async-tools/core";
import { tempDir } from "@async-tools/test-helpers/temp";
import { window } from "../lib/rates.ts";
import { fresh } from "../lib/scenario.ts";
import { threeStepTool } from "../lib/three-steps.ts";

const threeSteps = threeStepTool("three_step_cpu");
const submitters = Number(process.argv[2] ?? 32);
const seconds = Number(process.argv[3] ?? 5);
const durability = process.argv[4] === "full" ? "full" : "normal";
const profile = process.argv[5];

using dir = tempDir("bench-cpu");
const tools = await createAsyncTools({
  name: "bench-cpu",
  store: `sqlite:${join(dir.path, "jobs.db")}`,
  tools: [threeSteps],
  durability,
});
const one = async () => {
  const started = await tools.start(threeSteps, { n: fresh() });
  const [job] = await tools.wait([started.jobId], { timeoutMs: 30_000 });
  if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
};
await window(submitters, 500, one);
const session = profile === undefined ? undefined : new Session();
if (session !== undefined) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const measured = await window(submitters, seconds * 1000, one);
if (session !== undefined && profile !== undefined) {
  const { profile: taken } = await session.post("Profiler.stop");
  writeFileSync(profile, JSON.stringify(taken));
  session.disconnect();
}
await tools.close();
process.stdout.write(`${JSON.stringify({ submitters, durability, ...measured, load: loadavg()[0] })}\n`);
