/**
 * How the demo writes to its terminal: whether it may redraw in place (an interactive TTY outside CI) and
 * whether it may use color (a TTY, unless NO_COLOR is set), and painting text accordingly.
 */
import { styleText } from "node:util";

/** A style `util.styleText` knows, e.g. `"green"` or `["bold", "red"]`. */
export type Style = Parameters<typeof styleText>[0];

/** The demo's output stream and what it may do with it. */
export interface Terminal {
  /** Redraw a table in place with cursor movement; otherwise print one plain line per change. */
  readonly live: boolean;
  /** Use ANSI colors. */
  readonly color: boolean;
  /** The terminal's width, when it has one; live lines are cut to fit so that redrawing stays exact. */
  readonly columns: number | undefined;
  write(text: string): void;
  /** Writes `text` and a newline. */
  line(text?: string): void;
  /** `text` in `style` when color is on, else `text` unchanged. */
  paint(style: Style, text: string): string;
}

/** Whether `CI` is set to something other than an empty string, `0` or `false`. */
function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "0" && value !== "false";
}

/**
 * Describes `stream` under `env`.
 *
 * @example
 * ```ts
 * const term = detectTerminal();
 * term.line(term.paint("green", "done"));
 * ```
 */
export function detectTerminal(
  stream: NodeJS.WriteStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): Terminal {
  const tty = stream.isTTY === true && env.TERM !== "dumb";
  const color = tty && !env.NO_COLOR;
  return {
    live: tty && !isCi(env),
    color,
    get columns() {
      return tty ? stream.columns : undefined;
    },
    write: (text) => {
      stream.write(text);
    },
    line: (text = "") => {
      stream.write(`${text}\n`);
    },
    // The stream check is ours (TTY, NO_COLOR), so styleText must not second-guess it.
    paint: (style, text) => (color ? styleText(style, text, { validateStream: false }) : text),
  };
}
