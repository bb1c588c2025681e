/**
 * The job view in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) loads a
 * test host page built on `AppBridge` (`@async-tools/test-helpers/apps-host`), whose real MCP Client calls the real server
 * over HTTP and shows the view's page beside each call. A job's progress moves, its steps and retried attempt
 * appear, Cancel cancels it and Retry runs it again, the result renders through its tool's renderer with the raw JSON a click away,
 * and nothing throws. Screenshots go to test-output/apps/ and the test's temp dir.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAppsHost } from "@async-tools/test-helpers/apps-host";
import { CHROMIUM, HAS_CHROMIUM, useChromium } from "@async-tools/test-helpers/browser";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { registerTools } from "../src/mcp/v2/register.ts";
import { gate } from "./helpers.ts";

const OUT = join(import.meta.dirname, "..", "test-output", "apps");
/** The view's poll interval here: short, so the test sees progress without waiting long. */
const POLL_MS = 200;

const browser = useChromium(OUT);
let temp: string | undefined;
beforeAll(() => {
  if (HAS_CHROMIUM) temp = mkdtempSync(join(tmpdir(), "apps-view-"));
});
afterAll(() => {
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
});

/**
 * `rainfall`: asks the stations (failing once per region, then retried), waits for the region's readings,
 * and sums them; its renderer draws a bar per month and a table.
 */
function rainfallTool(readings: Map<string, { promise: Promise<void> }>) {
  const failed = new Set<string>();
  return defineAsyncTool({
    name: "rainfall",
    description: "Monthly rainfall of a region",
    input: z.object({ region: z.string() }),
    output: z.object({
      region: z.string(),
      months: z.array(z.object({ month: z.string(), mm: z.number() })),
      total_mm: z.number(),
    }),
    retry: { attempts: 3, initialDelayMs: 50 },
    run: async (ctx, { region }) => {
      ctx.progress(0.1, "asking the stations");
      await ctx.run("ask stations", () => {
        if (!failed.has(region)) {
          failed.add(region);
          throw new Error("503 Service Unavailable");
        }
      });
      ctx.progress(0.4, "waiting for readings");
      await ctx.run("collect readings", () => readings.get(region)?.promise);
      ctx.progress(0.8, "summing up");
      return ctx.run("sum", () => {
        const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"].map((month, i) => ({
          month,
          mm: 20 + ((region.length * 7 + i * 13) % 60),
        }));
        return { region, months, total_mm: months.reduce((sum, m) => sum + m.mm, 0) };
      });
    },
    view: {
      render(result, kit) {
        const top = Math.max(...result.months.map((m) => m.mm));
        const bars = result.months
          .map((m, i) => {
            const h = Math.round((m.mm / top) * 80);
            return `<rect x="${i * 34 + 4}" y="${90 - h}" width="26" height="${h}" rx="3" fill="currentColor"/>`;
          })
          .join("");
        const rows = result.months
          .map((m) => `<tr><td>${kit.escape(m.month)}</td><td>${m.mm} mm</td></tr>`)
          .join("");
        return (
          `<p class="total">${kit.escape(result.region)}: ${result.total_mm} mm</p>` +
          `<svg class="chart" viewBox="0 0 208 92" width="208" height="92">${bars}</svg>` +
          `<table class="months"><tr><th>Month</th><th>Rainfall</th></tr>${rows}</table>`
        );
      },
    },
  });
}

describe.skipIf(!HAS_CHROMIUM)(`the job view in Chromium (${CHROMIUM})`, () => {
  it("shows a job live, cancels one, renders a result, and throws nothing", async () => {
    const readings = new Map([
      ["North", gate()],
      ["South", gate()],
    ]);
    const rainfall = rainfallTool(readings);
    await using runtime = await createAsyncTools({ store: "memory", tools: [rainfall] });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: "rainfall", version: "0" });
      registerTools(server, runtime, { view: { pollMs: POLL_MS } });
      return server;
    });
    await using host = await openAppsHost(browser(), (request) => mcp.fetch(request));
    const { page } = host;

    // North in the light theme: the start tool's call, its view following the job.
    const north = await host.show("start_rainfall", { region: "North" });
    const bar = north.locator('[role="progressbar"]');
    await expect.poll(() => bar.getAttribute("aria-valuenow"), { timeout: 30_000 }).toBe("40");
    const steps = north.locator("li.step");
    await expect.poll(() => steps.count(), { timeout: 30_000 }).toBe(2);
    expect(await steps.first().textContent()).toContain("2 attempts");
    expect(await north.locator("ul.attempts").first().textContent()).toContain("503 Service Unavailable");
    expect(await north.locator(".status").textContent()).toBe("working");
    expect(await north.locator("#cancel").isVisible()).toBe(true);

    // South in the dark theme, cancelled from its view.
    const south = await host.show("start_rainfall", { region: "South" }, "dark");
    expect(await south.locator("html").getAttribute("data-theme")).toBe("dark");
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 30_000 }).toBe("working");
    await south.locator("#cancel").click();
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 30_000 }).toBe("cancelled");
    const southId = (await south.locator(".title .id").textContent()) ?? "";
    expect((await runtime.probe([southId]))[0]?.status).toBe("cancelled");
    expect(await south.locator("#retry").isVisible()).toBe(true);
    expect(await south.locator("#cancel").isVisible()).toBe(false);
    await page.screenshot({ path: join(OUT, "apps-view-running.png") });

    // North's readings arrive: the view follows it to its result, drawn by the tool's renderer.
    readings.get("North")?.open();
    await expect.poll(() => north.locator(".status").textContent(), { timeout: 30_000 }).toBe("completed");
    expect(await bar.getAttribute("aria-valuenow")).toBe("100");
    expect(await north.locator("svg.chart rect").count()).toBe(6);
    expect(await north.locator("table.months tr").count()).toBe(7);
    expect(await north.locator("p.total").textContent()).toMatch(/^North: \d+ mm$/);
    expect(await north.locator("details.raw pre").isVisible()).toBe(false);
    await north.locator("details.raw summary").click();
    expect(JSON.parse((await north.locator("details.raw pre").textContent()) ?? "")).toMatchObject({
      region: "North",
      total_mm: expect.any(Number),
    });
    expect(await north.locator("#cancel").isVisible()).toBe(false);
    await north.locator("details.raw summary").click();

    // Polling stopped with the job: no read of North after a few more poll intervals.
    const northId = (await north.locator(".title .id").textContent()) ?? "";
    const reads = async () =>
      (await host.viewCalls()).filter((c) => c === `async_tools_view_read ${northId}`).length;
    const readsWhenDone = await reads();
    expect(readsWhenDone).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 5 * POLL_MS));
    expect(await reads()).toBe(readsWhenDone);

    // The model heard how both ended.
    const told = await host.modelContext();
    expect(told).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ of rainfall is cancelled/),
        expect.stringMatching(/ of rainfall is completed/),
      ]),
    );

    await page.screenshot({ path: join(OUT, "apps-view.png") });
    await page.screenshot({ path: join(temp as string, "apps-view.png") });

    // South retried from its view: a fresh run, followed to its end.
    await south.locator("#retry").click();
    await expect.poll(() => south.locator(".title .id").textContent(), { timeout: 30_000 }).not.toBe(southId);
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 30_000 }).toBe("working");
    readings.get("South")?.open();
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 30_000 }).toBe("completed");
    expect(await south.locator("p.total").textContent()).toMatch(/^South: \d+ mm$/);
    expect(await host.modelContext()).toContainEqual(expect.stringMatching(/retried job .* as job /));
    expect(host.problems).toEqual([]);
  }, 180_000);
});
