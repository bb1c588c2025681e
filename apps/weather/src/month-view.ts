/**
 * How the job view of MCP Apps hosts shows a month of weather: a chart of the daily highs and lows with the
 * precipitation as bars, the month at a glance, and the days in a table. It runs in the view's browser frame
 * (sent as its source, see `ResultView` in @async-tools/core), so it uses nothing but its arguments.
 */
import type { RenderKit, ResultView } from "@async-tools/core";
import type { WeatherResult } from "./open-meteo/schemas.ts";

/** The weather tool's result renderer. */
export const monthView: ResultView<WeatherResult> = {
  render(result: WeatherResult, kit: RenderKit): string {
    const esc = kit.escape;
    const dark = kit.theme === "dark";
    const colors = {
      max: dark ? "#ff8a65" : "#d84315",
      min: dark ? "#64b5f6" : "#1565c0",
      rain: dark ? "#4db6ac88" : "#00897b66",
    };
    const width = 320;
    const height = 120;
    const days = result.days;
    const temps = days.flatMap((d) => [d.temperature_max_c, d.temperature_min_c]).filter((t) => t !== null);
    const rains = days.map((d) => d.precipitation_mm ?? 0);
    const low = Math.floor(Math.min(0, ...temps));
    const high = Math.ceil(Math.max(1, ...temps));
    const wettest = Math.max(1, ...rains);
    const step = width / Math.max(1, days.length);
    const x = (i: number) => (i + 0.5) * step;
    const y = (t: number) => height - 4 - ((t - low) / (high - low)) * (height - 8);
    const line = (pick: (d: (typeof days)[number]) => number | null, color: string) => {
      const points = days.flatMap((d, i) => {
        const t = pick(d);
        return t === null ? [] : [`${x(i).toFixed(1)},${y(t).toFixed(1)}`];
      });
      return `<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`;
    };
    const bars = rains
      .map((mm, i) => {
        const h = (mm / wettest) * (height / 3);
        return `<rect x="${(x(i) - step * 0.35).toFixed(1)}" y="${(height - h).toFixed(1)}" width="${(step * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors.rain}"/>`;
      })
      .join("");
    const zero =
      low < 0
        ? `<line x1="0" x2="${width}" y1="${y(0)}" y2="${y(0)}" stroke="currentColor" stroke-opacity=".25"/>`
        : "";
    const chart =
      `<svg class="weather-chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" ` +
      `aria-label="Daily high and low temperature and precipitation">${bars}${zero}` +
      `${line((d) => d.temperature_max_c, colors.max)}${line((d) => d.temperature_min_c, colors.min)}</svg>`;
    const value = (v: number | null, unit: string) => (v === null ? "–" : `${esc(v)} ${unit}`);
    const s = result.summary;
    const month = new Date(Date.UTC(result.year, result.month - 1, 1)).toLocaleString("en", {
      month: "long",
      year: "numeric",
      timeZone: "UTC",
    });
    const glance = [
      ["Lowest", value(s.temperature_min_c, "°C")],
      ["Highest", value(s.temperature_max_c, "°C")],
      ["Mean", value(s.temperature_mean_c, "°C")],
      ["Precipitation", value(s.precipitation_total_mm, "mm")],
      [
        "Wettest day",
        s.wettest_day ? `${esc(s.wettest_day.date)} (${esc(s.wettest_day.precipitation_mm)} mm)` : "–",
      ],
    ]
      .map(([label, v]) => `<tr><th>${label}</th><td>${v}</td></tr>`)
      .join("");
    const rows = days
      .map(
        (d) =>
          `<tr><td>${esc(d.date)}</td><td>${value(d.temperature_max_c, "°C")}</td>` +
          `<td>${value(d.temperature_min_c, "°C")}</td><td>${value(d.precipitation_mm, "mm")}</td></tr>`,
      )
      .join("");
    const where = `${esc(result.location.latitude)}, ${esc(result.location.longitude)} (${esc(result.location.timezone)})`;
    return (
      `<p class="weather-title"><strong>${esc(month)}</strong> at ${where}</p>${chart}` +
      `<p class="weather-legend"><span style="color:${colors.max}">━ high</span> ` +
      `<span style="color:${colors.min}">━ low</span> <span style="color:${colors.rain}">▮ precipitation</span></p>` +
      `<table class="weather-summary">${glance}</table>` +
      `<details class="weather-days"><summary>Every day</summary><table><tr><th>Date</th><th>High</th>` +
      `<th>Low</th><th>Precipitation</th></tr>${rows}</table></details>`
    );
  },
};
