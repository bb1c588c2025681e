/**
 * Small statistics and table printing for the harnesses: medians, quantiles, spreads and aligned tables.
 */

/** The `q` quantile (0..1) of `values`, by linear interpolation; `NaN` for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const low = Math.floor(at);
  const high = Math.ceil(at);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? Number.NaN;
  return lowValue + (highValue - lowValue) * (at - low);
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** A median with its spread over rounds (min and max), as printed and stored. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** The median and min-max spread of one figure measured once per round. */
export function spread(values: readonly number[]): Spread {
  return {
    median: median(values),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    rounds: values.length,
  };
}

/** `1.23 (1.10-1.40)`: a spread with `digits` decimals. */
export function showSpread(s: Spread, digits = 2): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

/** `2.31x (2.10-2.52)`: a ratio spread, with more decimals for ratios far below 1. */
export function showRatio(s: Spread): string {
  const digits = s.median < 0.1 ? 4 : 2;
  return `${s.median.toFixed(digits)}x (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

/** A fixed-width text table with a title line; every cell is already a string. */
export function formatTable(title: string, headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [`\n${title}`, line(headers), rule, ...rows.map(line)].join("\n");
}

/** `met`, or `MISSED` in capitals so a missed target stands out in a table. */
export function verdict(met: boolean): string {
  return met ? "met" : "MISSED";
}
