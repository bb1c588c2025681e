import { join } from "node:path";
import { createAsyncTools } from "@async-tools/core";
import { type AppsHost, openAppsHost } from "@async-tools/test-helpers/apps-host";
import { CHROMIUM, HAS_CHROMIUM, useChromium } from "@async-tools/test-helpers/browser";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { weatherRuntimeOptions } from "../src/server.ts";
import { buildServerV2 } from "../src/server-v2.ts";
import { type FakeOpenMeteo, type ScriptedResponse, startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

const OUT = join(import.meta.dirname, "..", "test-output", "apps");

const browser = useChromium(OUT);

/** The fake archive (answering `script` first), a weather runtime on it, and the host page of its v2 server. */
async function weatherHost(script: ScriptedResponse[], height: number) {
  const fake = await startFakeOpenMeteo({ script });
  const runtime = await createAsyncTools({
    ...weatherRuntimeOptions({ archiveUrl: fake.url, retry: { attempts: 3, initialDelayMs: 100 } }),
    store: "memory",
  });
  const mcp = createMcpHandler(() => buildServerV2(runtime));
  const host = await openAppsHost(browser(), (request) => mcp.fetch(request), { width: 1100, height });
  return {
    fake,
    host,
    async [Symbol.asyncDispose]() {
      await host[Symbol.asyncDispose]();
      await runtime[Symbol.asyncDispose]();
      await fake.close();
    },
  } satisfies { fake: FakeOpenMeteo; host: AppsHost } & AsyncDisposable;
}

describe.skipIf(!HAS_CHROMIUM)(`the weather job view in Chromium (${CHROMIUM})`, () => {
  it("draws a gathered month as a chart and tables, in the light and the dark theme", async () => {
    await using setup = await weatherHost([{ status: 503 }], 640);
    const { host } = setup;

    const edmonton = await host.show("start_gathering", {
      latitude: 53.55,
      longitude: -113.49,
      year: 2024,
      month: 1,
    });
    const berlin = await host.show(
      "start_gathering",
      { latitude: 52.52, longitude: 13.41, year: 2023, month: 7 },
      "dark",
    );
    for (const view of [edmonton, berlin]) {
      await expect.poll(() => view.locator(".status").textContent(), { timeout: 30_000 }).toBe("completed");
      expect(await view.locator("svg.weather-chart polyline").count()).toBe(2);
      expect(await view.locator("table.weather-summary tr").count()).toBe(5);
      expect(await view.locator("details.weather-days tr").count()).toBe(32);
    }
    expect(await edmonton.locator("p.weather-title").textContent()).toContain("January 2024");
    expect(await berlin.locator("p.weather-title").textContent()).toContain("July 2023");
    expect(await edmonton.locator("li.step").first().textContent()).toContain("2 attempts");
    expect(await edmonton.locator("ul.attempts").textContent()).toContain("503");

    await host.page.screenshot({ path: join(OUT, "weather-view.png"), fullPage: true });
    expect(host.problems).toEqual([]);
  }, 180_000);

  it("shows every month of a gathering over three months, the first also day by day", async () => {
    await using setup = await weatherHost([], 900);
    const { fake, host } = setup;

    const spring = await host.show("start_gathering", {
      latitude: 53.55,
      longitude: -113.49,
      year: 2024,
      month: 1,
      months: 3,
    });
    await expect.poll(() => spring.locator(".status").textContent(), { timeout: 30_000 }).toBe("completed");
    expect(fake.requests()).toBe(1);
    const months = spring.locator("table.weather-months tr");
    expect(await months.count()).toBe(4);
    expect(await months.nth(1).textContent()).toContain("January 2024");
    expect(await months.nth(2).textContent()).toContain("February 2024");
    expect(await months.nth(3).textContent()).toContain("March 2024");
    expect(await spring.locator("svg.weather-months-chart polyline").count()).toBe(2);
    expect(await spring.locator("p.weather-span").textContent()).toContain("January 2024 to March 2024");
    expect(await spring.locator("details.weather-days tr").count()).toBe(32);

    await host.page.screenshot({ path: join(OUT, "weather-view-months.png"), fullPage: true });
    expect(host.problems).toEqual([]);
  }, 180_000);
});
