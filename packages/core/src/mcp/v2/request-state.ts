/**
 * The `requestState` of a 2026-07-28 multi-round-trip call (SEP-2322) of a task tool: which job the round
 * belongs to, sealed with HMAC-SHA256 (the v2 SDK's `createRequestStateCodec`) under a key kept in the store,
 * so any process on the store (a restarted one, another replica) verifies what another minted, and a client
 * can neither forge nor alter it. The state is also bound to the caller (the authenticated principal), and
 * the job it names is read from the store with the caller's scope, so another principal's job stays unknown.
 */
import { randomBytes } from "node:crypto";
import {
  createRequestStateCodec,
  ProtocolError,
  ProtocolErrorCode,
  type RequestStateCodec,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { DEFAULTS } from "../../defaults.ts";
import type { PromiseClient } from "../../runtime/promise-client.ts";
import { principalOf } from "../principal.ts";

/** The durable promise that holds the HMAC key: pending for ever, so retention never removes it. */
const KEY_PROMISE_ID = "async-tools:request-state-key";

/** What a round's `requestState` carries (readable by the client: signed, not encrypted). */
export interface RoundState {
  /** The job the round belongs to. */
  job: string;
  /** The task tool that was called. */
  tool: string;
  /** The keys of the input requests of the round, so each round's state differs from the last. */
  keys: string[];
}

/** Mints and verifies round states with the store's key; one per runtime, created on first use. */
export class RequestStates {
  private readonly codec: RequestStateCodec<RoundState>;

  private constructor(key: string) {
    this.codec = createRequestStateCodec<RoundState>({
      key,
      ttlSeconds: Math.round(DEFAULTS.requestStateTtlMs / 1000),
      bind: (ctx) => principalOf(ctx.http?.authInfo) ?? "",
    });
  }

  /** The states of the store behind `promises`: reads its key, or creates it (once, whoever is first). */
  static async open(promises: PromiseClient): Promise<RequestStates> {
    const existing = await promises.get(KEY_PROMISE_ID);
    if (existing === undefined) {
      const fresh = { key: randomBytes(32).toString("base64url") };
      await promises.create(KEY_PROMISE_ID, Number.MAX_SAFE_INTEGER, fresh, {});
    }
    // Read back what the store holds: of two processes creating it at once, the first one's key stands.
    const record = await promises.get(KEY_PROMISE_ID);
    const held = record === undefined ? undefined : (promises.param(record) as { key?: unknown } | undefined);
    if (typeof held?.key !== "string") throw new Error(`the store's ${KEY_PROMISE_ID} holds no key`);
    return new RequestStates(held.key);
  }

  /** The sealed state of a round. */
  mint(state: RoundState, ctx: ServerContext): Promise<string> {
    return this.codec.mint(state, ctx);
  }

  /**
   * The round an echoed `requestState` stands for, or -32602 when it fails its check: altered, forged, from
   * another caller, or older than {@link DEFAULTS.requestStateTtlMs}.
   */
  async verify(text: string, ctx: ServerContext): Promise<RoundState> {
    try {
      return await this.codec.verify(text, ctx);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid requestState (${why}): it failed its integrity check. Call the tool again without ` +
          "requestState and inputResponses to start a new round.",
      );
    }
  }
}

const opened = new WeakMap<PromiseClient, Promise<RequestStates>>();

/** The request states of the store behind `promises`, opened once per process. */
export function requestStatesOf(promises: PromiseClient): Promise<RequestStates> {
  let states = opened.get(promises);
  if (states === undefined) {
    states = RequestStates.open(promises);
    states.catch(() => opened.delete(promises));
    opened.set(promises, states);
  }
  return states;
}
