/**
 * Resonate message addresses, read without their scheme: a store shared by several processes routes
 * `sqlite://…` (its owner's), `poll://…` (HTTP joiners') and a dead owner's old addresses the same way.
 */

/** A parsed address: `uni` reaches one process, `any` one process of the group (preferring `pid`). */
export interface Address {
  cast: "uni" | "any";
  group: string;
  pid?: string;
}

const ADDRESS = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(uni|any)@([^/]+)(?:\/(.+))?$/;

/** Parses `scheme://uni@group/pid`, `scheme://any@group/pid` or `scheme://any@group`; `undefined` otherwise. */
export function parseAddress(address: string): Address | undefined {
  const match = ADDRESS.exec(address);
  if (match === null) return undefined;
  const [, cast, group, pid] = match;
  if (cast === "uni" && pid === undefined) return undefined;
  return {
    cast: cast as "uni" | "any",
    group: decodeURIComponent(group as string),
    ...(pid === undefined ? {} : { pid: decodeURIComponent(pid) }),
  };
}
