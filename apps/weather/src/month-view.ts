/**
 * How the job view of MCP Apps hosts shows a month of weather: a chart of the daily highs and lows with the
 * precipitation as bars, the month at a glance, and the days in a table; for a gathering, every month at every
 * place first (a chart per place and a table). It runs in the view's browser frame (sent as its source, see
 * `ResultView` in @async-tools/core), so it uses nothing but its arguments.
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
    /** A chart of highs and lows as lines and precipitation as bars, one point per entry of `points`. */
    const chart = (
      points: { max: number | null; min: number | null; rain: number | null }[],
      className: string,
      label: string,
    ) => {
      const temps = points.flatMap((p) => [p.max, p.min]).filter((t) => t !== null);
      const rains = points.map((p) => p.rain ?? 0);
      const low = Math.floor(Math.min(0, ...temps));
      const high = Math.ceil(Math.max(1, ...temps));
      const wettest = Math.max(1, ...rains);
      const step = width / Math.max(1, points.length);
      const x = (i: number) => (i + 0.5) * step;
      const y = (t: number) => height - 4 - ((t - low) / (high - low)) * (height - 8);
      const line = (pick: (p: (typeof points)[number]) => number | null, color: string) => {
        const coords = points.flatMap((p, i) => {
          const t = pick(p);
          return t === null ? [] : [`${x(i).toFixed(1)},${y(t).toFixed(1)}`];
        });
        return `<polyline points="${coords.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`;
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
      return (
        `<svg class="${className}" viewBox="0 0 ${width} ${height}" width="100%" role="img" ` +
        `aria-label="${esc(label)}">${bars}${zero}` +
        `${line((p) => p.max, colors.max)}${line((p) => p.min, colors.min)}</svg>`
      );
    };
    const legend = (rain: string) =>
      `<p class="weather-legend"><span style="color:${colors.max}">━ high</span> ` +
      `<span style="color:${colors.min}">━ low</span> <span style="color:${colors.rain}">▮ ${rain}</span></p>`;
    const value = (v: number | null, unit: string) => (v === null ? "–" : `${esc(v)} ${unit}`);
    const s = result.summary;
    const monthName = (m: { year: number; month: number }) =>
      new Date(Date.UTC(m.year, m.month - 1, 1)).toLocaleString("en", {
        month: "long",
        year: "numeric",
        timeZone: "UTC",
      });
    const month = monthName(result);
    const placeOf = (l: WeatherResult["location"]) =>
      `${esc(l.latitude)}, ${esc(l.longitude)} (${esc(l.timezone)})`;
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
    const rows = result.days
      .map(
        (d) =>
          `<tr><td>${esc(d.date)}</td><td>${value(d.temperature_max_c, "°C")}</td>` +
          `<td>${value(d.temperature_min_c, "°C")}</td><td>${value(d.precipitation_mm, "mm")}</td></tr>`,
      )
      .join("");
    const daily = chart(
      result.days.map((d) => ({
        max: d.temperature_max_c,
        min: d.temperature_min_c,
        rain: d.precipitation_mm,
      })),
      "weather-chart",
      "Daily high and low temperature and precipitation",
    );
    const first =
      `<p class="weather-title"><strong>${esc(month)}</strong> at ${placeOf(result.location)}</p>${daily}` +
      `${legend("precipitation")}<table class="weather-summary">${glance}</table>` +
      `<details class="weather-days"><summary>Every day</summary><table><tr><th>Date</th><th>High</th>` +
      `<th>Low</th><th>Precipitation</th></tr>${rows}</table></details>`;
    const gathered = result.gathered ?? [];
    if (gathered.length < 2) return first;

    // A gathering: every month at every place at a glance (the result carries the days of the first only).
    // Place by place, month by month: a place's run starts again at the first month (two places may share
    // Open-Meteo's grid cell, so the location cannot tell them apart).
    const places: { where: string; months: typeof gathered }[] = [];
    for (const g of gathered) {
      const last = places.at(-1);
      if (last === undefined || (g.year === result.year && g.month === result.month)) {
        places.push({ where: placeOf(g.location), months: [g] });
      } else last.months.push(g);
    }
    const names = gathered.map(monthName);
    const span = names[0] === names.at(-1) ? names[0] : `${names[0]} to ${names.at(-1)}`;
    const monthCount = places[0]?.months.length ?? 0;
    const count = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    const charts =
      monthCount < 2
        ? ""
        : places
            .map(
              (p) =>
                (places.length > 1 ? `<p class="weather-place">${p.where}</p>` : "") +
                chart(
                  p.months.map((g) => ({
                    max: g.summary.temperature_max_c,
                    min: g.summary.temperature_min_c,
                    rain: g.summary.precipitation_total_mm,
                  })),
                  "weather-months-chart",
                  "Monthly highest and lowest temperature and total precipitation",
                ),
            )
            .join("") + legend("precipitation of the month");
    // The place is in the line above the table when there is only one.
    const placeCell = (where: string) => (places.length > 1 ? `<td>${where}</td>` : "");
    const monthRows = places
      .flatMap((p) =>
        p.months.map(
          (g) =>
            `<tr><td>${esc(monthName(g))}</td>${placeCell(p.where)}` +
            `<td>${value(g.summary.temperature_min_c, "°C")}</td><td>${value(g.summary.temperature_max_c, "°C")}</td>` +
            `<td>${value(g.summary.temperature_mean_c, "°C")}</td>` +
            `<td>${value(g.summary.precipitation_total_mm, "mm")}</td></tr>`,
        ),
      )
      .join("");
    const at = places.length > 1 ? count(places.length, "place") : `1 place, ${places[0]?.where}`;
    return (
      `<p class="weather-span"><strong>${esc(span)}</strong>: ${count(monthCount, "month")} at ${at}</p>` +
      `${charts}<table class="weather-months"><tr><th>Month</th>${places.length > 1 ? "<th>Place</th>" : ""}` +
      `<th>Lowest</th><th>Highest</th><th>Mean</th><th>Precipitation</th></tr>${monthRows}</table>${first}`
    );
  },
};
