/**
 * The job view in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) loads a
 * test host page built on `AppBridge` (test/apps-host/host.ts), whose real MCP Client calls the real server
 * over HTTP and shows the view's page beside each call. A job's progress moves, its steps and retried attempt
 * appear, Cancel cancels it, the result renders through its tool's renderer with the raw JSON a click away,
 * and nothing throws. Screenshots go to test-output/apps/ and the test's temp dir.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { build } from "esbuild";
import { type Browser, chromium, type Frame, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { serveDashboard } from "../src/dashboard/serve.ts";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { registerTools } from "../src/mcp/v2/register.ts";
import { gate } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUT = join(import.meta.dirname, "..", "test-output", "apps");
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

let browser: Browser | undefined;
let temp: string | undefined;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  mkdirSync(OUT, { recursive: true });
  temp = mkdtempSync(join(tmpdir(), "apps-view-"));
}, 60_000);
afterAll(async () => {
  await browser?.close();
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

const HOST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>MCP Apps test host</title>
<style>body{margin:0;font:13px system-ui;display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px}
#light{background:#fff}#dark{background:#16181d;color:#e6e8ec}
div{border-radius:10px;padding:10px;border:1px solid #d0d5dd}
iframe{width:100%;border:0;height:120px;display:block;margin-bottom:12px}</style></head>
<body><div id="light"></div><div id="dark"></div><script type="module" src="/host.js"></script></body></html>`;

/** The view frame shown beside the `n`th call. */
async function viewFrame(page: Page, n: number): Promise<Frame> {
  const handle = await page.locator("iframe").nth(n).elementHandle();
  const frame = await handle?.contentFrame();
  if (!frame) throw new Error(`no view frame ${n}`);
  return frame;
}

describe.skipIf(!existsSync(CHROMIUM))(`the job view in Chromium (${CHROMIUM})`, () => {
  it("shows a job live, cancels one, renders a result, and throws nothing", async () => {
    const readings = new Map([
      ["North", gate()],
      ["South", gate()],
    ]);
    const rainfall = rainfallTool(readings);
    await using runtime = await createAsyncTools({ store: "memory", tools: [rainfall] });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: "rainfall", version: "0" });
      registerTools(server, runtime, { view: { pollMs: 200 } });
      return server;
    });
    const bundle = await build({
      entryPoints: [join(import.meta.dirname, "apps-host", "host.ts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      logLevel: "silent",
    });
    const hostJs = bundle.outputFiles[0]?.text ?? "";
    await using served = await serveDashboard(async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/mcp") return mcp.fetch(request);
      if (pathname === "/host.js") return new Response(hostJs, { headers: { "content-type": "text/javascript" } });
      return new Response(HOST_PAGE, { headers: { "content-type": "text/html" } });
    });

    const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 760 } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });
    await page.goto(`${served.url}/`);
    await page.waitForSelector("body[data-ready]");

    // North in the light theme: the start tool's call, its view following the job.
    const shown = page.evaluate(() =>
      (window as unknown as { host: { show: (n: string, a: object) => Promise<unknown> } }).host.show(
        "start_rainfall",
        { region: "North" },
      ),
    );
    await shown;
    const north = await viewFrame(page, 0);
    const bar = north.locator('[role="progressbar"]');
    await expect.poll(() => bar.getAttribute("aria-valuenow"), { timeout: 15_000 }).toBe("40");
    const steps = north.locator("li.step");
    await expect.poll(() => steps.count(), { timeout: 10_000 }).toBe(2);
    expect(await steps.first().textContent()).toContain("2 attempts");
    expect(await north.locator("ul.attempts").first().textContent()).toContain("503 Service Unavailable");
    expect(await north.locator(".status").textContent()).toBe("working");
    expect(await north.locator("#cancel").isVisible()).toBe(true);

    // South in the dark theme, cancelled from its view.
    await page.evaluate(() =>
      (window as unknown as { host: { show: (n: string, a: object, t: string) => Promise<unknown> } }).host.show(
        "start_rainfall",
        { region: "South" },
        "dark",
      ),
    );
    const south = await viewFrame(page, 1);
    expect(await south.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 10_000 }).toBe("working");
    await south.locator("#cancel").click();
    await expect.poll(() => south.locator(".status").textContent(), { timeout: 10_000 }).toBe("cancelled");
    const [southJob] = (await runtime.list({ tool: "rainfall" })).jobs.filter((j) => j.status === "cancelled");
    expect(southJob?.status).toBe("cancelled");
    expect(await south.locator("#retry").isVisible()).toBe(true);
    expect(await south.locator("#cancel").isVisible()).toBe(false);
    await page.screenshot({ path: join(OUT, "apps-view-running.png") });

    // North's readings arrive: the view follows it to its result, drawn by the tool's renderer.
    readings.get("North")?.open();
    await expect.poll(() => north.locator(".status").textContent(), { timeout: 15_000 }).toBe("completed");
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

    // The model heard how both ended.
    const told = await page.evaluate(() => (window as unknown as { host: { modelContext: string[] } }).host.modelContext);
    expect(told).toEqual(
      expect.arrayContaining([expect.stringMatching(/ of rainfall is cancelled/), expect.stringMatching(/ of rainfall is completed/)]),
    );

    await page.screenshot({ path: join(OUT, "apps-view.png") });
    await page.screenshot({ path: join(temp as string, "apps-view.png") });
    expect(problems).toEqual([]);
    await page.close();
  });
});
