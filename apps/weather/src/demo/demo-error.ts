/** The demo's one error: something it set out to show did not happen; the message says what instead. */

/**
 * A failed demo step. `main.ts` prints its message (and the server's recent stderr) and exits with 1.
 *
 * @example
 * ```ts
 * throw new DemoError("Calgary failed: Open-Meteo refused the request (400)");
 * ```
 */
export class DemoError extends Error {
  override readonly name = "DemoError";
}
