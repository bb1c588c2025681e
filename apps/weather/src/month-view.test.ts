/**
 * The weather tool's result renderer, run the way the job view runs it: from the source text the definition
 * sends (so it must need nothing from around it), on a month with a missing day and a wet one.
 */
import type { RenderKit } from "@async-tools/core";
import { describe, expect, it } from "vitest";
import { sample } from "../test/support/archive-sample.ts";
import { WeatherRequestSchema } from "./open-meteo/schemas.ts";
import { summarize } from "./open-meteo/summary.ts";
import { weatherTool } from "./server.ts";

const escapeHtml = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
const days: (number | null)[][] = Array.from({ length: 31 }, (_, i) => [
  i - 10,
  i - 20,
  i % 7 === 0 ? 4.5 : 0,
]);
days[3] = [null, null, null];
const result = summarize(sample(days), request);

/** The renderer as the view gets it: evaluated from its source, without this module's scope. */
function fromSource(): (result: unknown, kit: RenderKit) => string {
  const source = weatherTool({ archiveUrl: "http://127.0.0.1:1" }).view?.source;
  if (source === undefined) throw new Error("the weather tool has no renderer");
  return new Function(`return ${source};`)();
}

describe("the weather month view", () => {
  it("draws the highs and lows as lines and the precipitation as a bar per day", () => {
    const html = fromSource()(result, { escape: escapeHtml, theme: "light" });
    expect(html.match(/<polyline /g)).toHaveLength(2);
    expect(html.match(/<rect /g)).toHaveLength(31);
    expect(html).toContain("<strong>January 2024</strong> at 53.5, -113.5 (America/Edmonton)");
  });

  it("puts the month at a glance and every day in tables, a missing value as a dash", () => {
    const html = fromSource()(result, { escape: escapeHtml, theme: "dark" });
    expect(html).toContain("<tr><th>Highest</th><td>20 °C</td></tr>");
    expect(html).toContain("<tr><th>Wettest day</th><td>2024-01-01 (4.5 mm)</td></tr>");
    expect(html.match(/<tr><td>2024-01-\d\d<\/td>/g)).toHaveLength(31);
    expect(html).toContain("<tr><td>2024-01-04</td><td>–</td><td>–</td><td>–</td></tr>");
  });

  it("shows a gathering of two places and two months as a chart per place and a row per month and place", () => {
    const monthAt = (latitude: number, month: number) => ({
      ...result,
      location: { ...result.location, latitude },
      month,
    });
    const gathered = [monthAt(53.5, 1), monthAt(53.5, 2), monthAt(51, 1), monthAt(51, 2)].map(
      ({ location, year, month, summary }) => ({ location, year, month, summary }),
    );
    const html = fromSource()({ ...result, gathered }, { escape: escapeHtml, theme: "light" });
    expect(html).toContain("<strong>January 2024 to February 2024</strong>: 2 months at 2 places");
    expect(html.match(/<svg class="weather-months-chart"/g)).toHaveLength(2);
    expect(html.match(/<tr><td>(January|February) 2024<\/td><td>5\d(\.5)?, -113.5 /g)).toHaveLength(4);
    expect(html).toContain("<strong>January 2024</strong> at 53.5, -113.5 (America/Edmonton)");
  });
});
