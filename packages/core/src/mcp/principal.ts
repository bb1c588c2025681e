/**
 * Who calls, for the job tools: the principal an authenticated request carries, taken from the auth info both
 * SDK generations hand to handlers (`extra.authInfo`), and, for code the SDK calls without that info (a task
 * store), the principal of the request being answered.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** The part of an SDK's `AuthInfo` a principal is read from. */
export interface AuthInfoLike {
  clientId?: string;
  extra?: Record<string, unknown>;
}

/** The `AuthInfo.extra` key under which a server states the principal outright (static API keys do). */
export const PRINCIPAL_EXTRA = "async-tools:principal";

/**
 * The principal of a request's auth info: `extra["async-tools:principal"]` when the server set it (named
 * static tokens), else the token's subject (`extra.sub`, as a verifier copies it from the JWT or the
 * introspection answer), else its OAuth client ID. The subject comes before the client ID because a client ID
 * names an application that many users share; binding jobs to it would let those users see each other's jobs.
 * `undefined` without auth info: one caller, today's job IDs.
 *
 * @example
 * ```ts
 * principalOf({ clientId: "claude", extra: { sub: "user-42" } }); // "user-42"
 * ```
 */
export function principalOf(auth: AuthInfoLike | undefined): string | undefined {
  if (auth === undefined) return undefined;
  for (const value of [auth.extra?.[PRINCIPAL_EXTRA], auth.extra?.sub, auth.clientId]) {
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

const current = new AsyncLocalStorage<string | undefined>();

/** Runs `fn` on behalf of `principal`: {@link currentPrincipal} returns it anywhere `fn` awaits. */
export function runAsCaller<T>(principal: string | undefined, fn: () => T): T {
  return current.run(principal, fn);
}

/** The principal of the request being answered, set by {@link runAsCaller}; `undefined` outside one. */
export function currentPrincipal(): string | undefined {
  return current.getStore();
}
