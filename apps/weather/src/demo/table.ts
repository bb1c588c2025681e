/**
 * Aligned text columns for the demo's tables: widths come from the plain text, color is added after padding,
 * so colored and uncolored output line up the same.
 */
import type { Style, Terminal } from "./terminal.ts";

/** One column: its header, which side it aligns to, and a style for all of its cells. */
export interface Column {
  header: string;
  align?: "left" | "right";
  style?: Style;
}

/** A cell's text, optionally with its own style (which wins over the column's). */
export type Cell = string | { text: string; style?: Style };

const INDENT = "  ";
const GAP = "  ";

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return "";
  return typeof cell === "string" ? cell : cell.text;
}

function cellStyle(cell: Cell | undefined, column: Column): Style | undefined {
  return (typeof cell === "object" ? cell.style : undefined) ?? column.style;
}

/**
 * The width of each column: its widest cell or header.
 *
 * @example
 * ```ts
 * columnWidths([{ header: "City" }], [["Vancouver"]]); // [9]
 * ```
 */
export function columnWidths(columns: readonly Column[], rows: readonly (readonly Cell[])[]): number[] {
  return columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => cellText(row[i]).length)),
  );
}

/**
 * One row padded to `widths`. With `maxWidth`, the last cell is cut so the line fits: a wrapped line would
 * throw off a redraw that moves the cursor up by a line count.
 *
 * @example
 * ```ts
 * renderRow(term, [{ header: "City" }, { header: "Mean °C", align: "right" }], [9, 7], ["Banff", "-9.1"]);
 * // "  Banff         -9.1"
 * ```
 */
export function renderRow(
  term: Terminal,
  columns: readonly Column[],
  widths: readonly number[],
  cells: readonly Cell[],
  maxWidth?: number,
): string {
  const last = columns.length - 1;
  const texts = columns.map((column, i) => {
    const text = cellText(cells[i]);
    const width = widths[i] ?? text.length;
    if (i === last && column.align !== "right") return text;
    return column.align === "right" ? text.padStart(width) : text.padEnd(width);
  });
  if (maxWidth !== undefined) {
    const fixed =
      INDENT.length + texts.slice(0, last).reduce((sum, text) => sum + text.length + GAP.length, 0);
    const room = Math.max(0, maxWidth - fixed);
    const tail = texts[last] ?? "";
    if (tail.length > room) texts[last] = room > 1 ? `${tail.slice(0, room - 1)}…` : "";
  }
  const painted = texts.map((text, i) => {
    const column = columns[i];
    const style = column ? cellStyle(cells[i], column) : undefined;
    return style && text !== "" ? term.paint(style, text) : text;
  });
  return `${INDENT}${painted.join(GAP)}`.trimEnd();
}

/** The header line of `columns`, dimmed. */
export function renderHeader(
  term: Terminal,
  columns: readonly Column[],
  widths: readonly number[],
  maxWidth?: number,
): string {
  const plain = columns.map((column) => ({ ...column, style: "dim" as const }));
  return renderRow(
    term,
    plain,
    widths,
    columns.map((column) => column.header),
    maxWidth,
  );
}

/**
 * A whole table: a header line and one line per row, every column as wide as its widest cell.
 *
 * @example
 * ```ts
 * for (const line of renderTable(term, [{ header: "City" }], [["Calgary"], ["Banff"]])) term.line(line);
 * ```
 */
export function renderTable(
  term: Terminal,
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
): string[] {
  const widths = columnWidths(columns, rows);
  return [renderHeader(term, columns, widths), ...rows.map((row) => renderRow(term, columns, widths, row))];
}
