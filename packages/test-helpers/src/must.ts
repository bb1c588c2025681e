/**
 * The value a test expects to be there, or a clear failure naming what was missing.
 *
 * Tests use it where an index, a regex group or a lookup is certain by construction of the test; if the
 * construction is wrong, the test fails with `what` instead of a TypeError further down.
 *
 * @example
 * ```ts
 * const tool = must(tools.find((t) => t.name === "start_gathering"), "the start_gathering tool");
 * ```
 */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found none`);
  return value;
}
