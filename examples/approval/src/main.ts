/**
 * The approval flow end to end, in one process: start a refund, see the job wait for input with its question,
 * answer it as an operator would (the dashboard and `async-tools jobs answer` call the same method), and read
 * the result. Run it with:
 *
 *   pnpm --filter @async-tools/example-approval start
 */
import { createAsyncTools } from "@async-tools/core";
import { refund } from "./refund.ts";

await using runtime = await createAsyncTools({ store: "memory", tools: [refund] });
const job = await runtime.start(refund, { order: "A-1001" });

// An await returns as soon as the job waits for an answer.
const [waiting] = await runtime.wait([job.jobId], { timeoutMs: 30_000 });
const question = waiting?.questions?.[0];
if (waiting?.status !== "input_required" || question === undefined) {
  throw new Error(`expected the job to ask, but it is ${waiting?.status}`);
}
console.error(`${job.jobId} asks ${question.id}: ${JSON.stringify(question.request)}`);

const outcome = await runtime.answer(job.jobId, {
  [question.id]: { action: "accept", content: { approve: true, reason: "damaged in transit" } },
});
console.error(`answer: ${outcome.status}`);

const done = await runtime.waitFor(refund, job.jobId, 30_000);
console.error(`result: ${JSON.stringify(done.result)}`);
