import { join } from "node:path";
import { CHROMIUM, HAS_CHROMIUM, useChromium } from "@async-tools/test-helpers/browser";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createDashboard } from "../src/dashboard/dashboard.ts";
import { serveDashboard } from "../src/dashboard/serve.ts";
import { createAsyncTools, defineAsyncTool, PermanentError } from "../src/index.ts";
import { forecastTool } from "./fixtures/forecast-tool.ts";
import { gate } from "./helpers.ts";

const OUT = join(import.meta.dirname, "..", "test-output", "dashboard");
const browser = useChromium(OUT);

/** `report`: three stages, each waiting for its gate, reporting progress after each. */
function reportTool(stages: { promise: Promise<void> }[]) {
  return defineAsyncTool({
    name: "report",
    description: "Builds a report in stages",
    input: z.object({ month: z.string() }),
    run: async (ctx, { month }) => {
      for (const [i, stage] of stages.entries()) {
        await ctx.run(`stage-${i + 1}`, () => stage.promise);
        ctx.progress((i + 1) / (stages.length + 1), `stage ${i + 1} of ${stages.length + 1} done`);
      }
      if (month === "never") throw new PermanentError("no data for that month");
      return { month, pages: 12 };
    },
  });
}

describe.skipIf(!HAS_CHROMIUM)(`the dashboard in Chromium (${CHROMIUM})`, () => {
  it("shows jobs appear and progress live, and cancels one from its page", async () => {
    const stages = [gate(), gate(), gate()];
    const report = reportTool(stages);
    const forecast = forecastTool({ flaky: { Oslo: 1 }, brokenUpstream: false });
    await using runtime = await createAsyncTools({ store: "memory", tools: [report, forecast] });
    await using served = await serveDashboard(createDashboard(runtime, { basePath: "/jobs", pollMs: 200 }));
    const page = await browser().newPage({ viewport: { width: 1280, height: 640 } });

    await page.goto(`${served.url}/jobs/`);
    await expect.poll(() => page.locator("tr.empty").count()).toBe(1);

    // Jobs started after the page loaded appear without a reload.
    const loadedAt = await page.evaluate(() => performance.timeOrigin);
    const march = await runtime.start(report, { month: "2026-03" });
    const april = await runtime.start(report, { month: "2026-04" });
    const oslo = await runtime.start(forecast, { city: "Oslo" });
    const paris = await runtime.start(forecast, { city: "Paris" });
    const nowhere = await runtime.start(forecast, { city: "Nowhere" });
    const row = (id: string) => page.locator(`tr[data-job="${id}"]`);
    await expect.poll(() => row(march.jobId).count()).toBe(1);
    await expect.poll(() => row(nowhere.jobId).getAttribute("data-status")).toBe("failed");
    await expect.poll(() => row(paris.jobId).getAttribute("data-status")).toBe("completed");
    await expect.poll(() => row(oslo.jobId).getAttribute("data-status")).toBe("completed");

    // They progress, still without a reload.
    const progress = (id: string) => row(id).locator('[role="progressbar"]').getAttribute("aria-valuenow");
    expect(await row(march.jobId).locator('[role="progressbar"]').count()).toBe(0);
    stages[0]?.open();
    await expect.poll(() => progress(march.jobId)).toBe("25");
    stages[1]?.open();
    await expect.poll(() => progress(march.jobId)).toBe("50");
    expect(await page.evaluate(() => performance.timeOrigin)).toBe(loadedAt);
    expect(await row(oslo.jobId).locator("td.num").textContent()).toBe("3");
    await page.screenshot({ path: join(OUT, "jobs.png") });

    // Filters: only failed jobs.
    await page.selectOption('select[name="status"]', "failed");
    await page.waitForURL(/status=failed/);
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect(await row(nowhere.jobId).count()).toBe(1);
    await page.selectOption('select[name="status"]', "");
    await page.waitForURL((url) => !url.search.includes("status=failed"));

    // Cancel April from its page.
    await row(april.jobId).locator("a").click();
    await page.waitForURL(/\/jobs\/job\//);
    expect(await page.locator("section.job .status").first().textContent()).toBe("working");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => page.locator("section.job .status").first().textContent()).toBe("cancelled");
    expect((await runtime.probe([april.jobId]))[0]?.status).toBe("cancelled");
    await page.screenshot({ path: join(OUT, "job-cancelled.png"), fullPage: true });

    // A retried job's page shows its step timeline with the failed attempt and its error.
    await page.goto(`${served.url}/jobs/job/${oslo.jobId}`);
    const attempts = page.locator("table.steps tr.attempt");
    expect(await attempts.count()).toBe(3);
    expect(await attempts.first().textContent()).toContain("503 Service Unavailable");
    await page.screenshot({ path: join(OUT, "job-retried.png"), fullPage: true });

    // March finishes while its page is open; the page follows it to the result.
    await page.goto(`${served.url}/jobs/job/${march.jobId}`);
    stages[2]?.open();
    await expect.poll(() => page.locator("pre.result").count()).toBe(1);
    expect(await page.locator("pre.result").textContent()).toContain('"pages": 12');

    // The table with every kind of job, for docs/observability.md.
    const june = await runtime.start(forecast, { city: "Slowville" });
    await page.goto(`${served.url}/jobs/`);
    await expect.poll(() => row(june.jobId).getAttribute("data-status")).toBe("working");
    await page.setViewportSize({ width: 1280, height: 400 });
    await page.screenshot({ path: join(OUT, "dashboard.png") });
    await page.close();
  });

  it("keeps what the operator fills into a question form while the page refreshes, and answers with it", async () => {
    const approve = defineAsyncTool({
      name: "approve",
      description: "Asks whether to go ahead, and why",
      input: z.object({ order: z.string() }),
      run: async (ctx) =>
        ctx.ask("go", {
          message: "Go ahead?",
          schema: z.object({ proceed: z.boolean(), note: z.string() }),
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [approve] });
    await using served = await serveDashboard(createDashboard(runtime, { basePath: "/jobs", pollMs: 200 }));
    const { jobId } = await runtime.start(approve, { order: "A-1" });
    await expect.poll(async () => (await runtime.probe([jobId]))[0]?.status).toBe("input_required");
    const page = await browser().newPage();
    await page.goto(`${served.url}/jobs/job/${jobId}`);
    const form = page.locator("section.question form");
    await form.locator('input[name="field:proceed"]').check();
    await form.locator('input[name="field:note"]').fill("typed before a refresh");
    // Several refreshes of the job's fragment come and go while the form is filled in.
    let refreshes = 0;
    page.on("response", (response) => {
      if (response.url().includes("/fragments/job/")) refreshes++;
    });
    await expect.poll(() => refreshes, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    await form.getByRole("button", { name: "Submit" }).click();
    const [done] = await runtime.wait([jobId], { timeoutMs: 30_000 });
    expect(done?.result).toEqual({
      action: "accept",
      content: { proceed: true, note: "typed before a refresh" },
    });
    await page.close();
  });
});
