/**
 * The weather job's work: one month at one place in one Open-Meteo request, as the tool always did; or several
 * places and months in one durable step per request (per place and calendar year), after asking the person to
 * confirm when that is more requests than the server's threshold.
 */
import { type JobContext, PermanentError, QuestionTimeoutError, RetryableError } from "@async-tools/core";
import { z } from "zod";
import { formatMonth } from "./open-meteo/calendar.ts";
import { fetchArchive, fetchMonth, UpstreamError } from "./open-meteo/client.ts";
import { type GatheringPlan, gatheringPlan, requestRange } from "./open-meteo/plan.ts";
import type { OpenMeteoArchiveResponse, WeatherRequest, WeatherResult } from "./open-meteo/schemas.ts";
import { summarize, summarizeMonths } from "./open-meteo/summary.ts";

/** How a job gathers: where Open-Meteo is, and when and how long it asks before many requests. */
export interface GatherOptions {
  archiveUrl: string;
  /** A job of more requests than this asks the person first. */
  confirmAbove: number;
  /** How long that question stays open; unanswered, it counts as declined. */
  confirmTimeoutMs: number;
}

/** The form of the confirmation question. */
export const ConfirmSchema = z.object({
  proceed: z.boolean().meta({ title: "Make these requests" }).describe("Make the requests to Open-Meteo"),
});

/** The question a job of `plan` asks before it makes its requests. */
export function confirmMessage(plan: GatheringPlan): string {
  const first = plan.months[0];
  const last = plan.months.at(-1);
  const months =
    plan.months.length === 1 || first === undefined || last === undefined
      ? `${plan.months.length} month`
      : `${plan.months.length} months, ${formatMonth(first)} to ${formatMonth(last)}`;
  const places = `${plan.places.length} place${plan.places.length === 1 ? "" : "s"}`;
  return `This is ${plan.requests.length} requests to Open-Meteo (${places}, ${months}), continue?`;
}

/** Runs `fetch` as Open-Meteo's call of a step: a refusal fails the job, a rate limit waits as asked. */
async function upstream(fetch: () => Promise<OpenMeteoArchiveResponse>): Promise<OpenMeteoArchiveResponse> {
  try {
    return await fetch();
  } catch (error) {
    if (error instanceof UpstreamError && !error.retryable) throw new PermanentError(error.message);
    if (error instanceof UpstreamError && error.retryAfterMs !== undefined) {
      throw new RetryableError(error.message, { retryAfterMs: error.retryAfterMs, cause: error });
    }
    throw error;
  }
}

/** Asks the user to confirm `plan`'s requests; `undefined` when they did, else why not, in a clause. */
async function confirmation(
  ctx: JobContext,
  plan: GatheringPlan,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const answer = await ctx.ask("confirm", {
      message: confirmMessage(plan),
      schema: ConfirmSchema,
      timeoutMs,
    });
    if (answer.action === "accept") return answer.content.proceed ? undefined : "they answered no";
    return answer.action === "decline" ? "they declined" : "they cancelled the question";
  } catch (error) {
    if (!(error instanceof QuestionTimeoutError)) throw error;
    const within =
      timeoutMs < 60_000 ? `${timeoutMs / 1000} seconds` : `${Math.round(timeoutMs / 60_000)} minutes`;
    return `no answer came within ${within}`;
  }
}

/** Gathers `request` as the weather job's durable function. */
export async function gather(
  ctx: JobContext,
  request: WeatherRequest,
  options: GatherOptions,
): Promise<WeatherResult> {
  const plan = gatheringPlan(request);
  const fetchOptions = { baseUrl: options.archiveUrl, signal: ctx.signal };
  if (plan.places.length === 1 && plan.months.length === 1) {
    ctx.progress(0.1, "asking Open-Meteo");
    const response = await ctx.run("fetch archive", () => upstream(() => fetchMonth(request, fetchOptions)));
    ctx.progress(0.9, "summarizing");
    return summarize(response, request);
  }

  const count = plan.requests.length;
  // Recorded, so a restart with another threshold replays the same steps.
  const confirm = await ctx.run("count requests", () => count > options.confirmAbove);
  if (confirm) {
    const reason = await confirmation(ctx, plan, options.confirmTimeoutMs);
    if (reason !== undefined) {
      throw new PermanentError(
        `Not gathered: ${count} requests to Open-Meteo need the user's confirmation, and ${reason}, so none ` +
          `was made. Ask for fewer places or months (${options.confirmAbove} requests or fewer need none).`,
      );
    }
  }

  const results: WeatherResult[] = [];
  for (const [i, archiveRequest] of plan.requests.entries()) {
    ctx.progress(0.05 + (0.9 * i) / count, `asking Open-Meteo (${i + 1} of ${count})`);
    const query = { ...archiveRequest.place, timezone: request.timezone };
    const response = await ctx.run(`fetch ${i + 1} of ${count}`, () =>
      upstream(() =>
        fetchArchive({ ...query, ...requestRange(archiveRequest, request.timezone) }, fetchOptions),
      ),
    );
    results.push(...summarizeMonths(response, archiveRequest.months));
  }
  const [first] = results as [WeatherResult, ...WeatherResult[]];
  return {
    ...first,
    gathered: results.map(({ location, year, month, summary }) => ({ location, year, month, summary })),
  };
}
