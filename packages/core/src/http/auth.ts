/**
 * Who may call, and as whom: static bearer tokens (one for the server, or one per principal) and an OAuth 2.1
 * resource server that checks access tokens with a pluggable verifier and publishes its protected-resource
 * metadata (RFC 9728).
 *
 * The v2 SDK (`@modelcontextprotocol/server` 2.4) ships the same checks for web `Request`s
 * (`requireBearerAuth`, `oauthMetadataResponse`); this module keeps its own because it serves both SDK
 * generations (the v1 SDK's are Express-only, and neither SDK may be installed beside the other) and because it
 * does more: it names the caller (the principal that owns jobs), takes a token whose verifier reports no
 * resource (the SDK's `expectedResource` refuses it), maps the errors of both generations' `OAuthError`s,
 * and lists several authorization servers without fetching their metadata (the SDK's document takes one
 * issuer's). Where they overlap, `auth.test.ts` holds it to the SDK's answers: the same status, error body and
 * `WWW-Authenticate` challenge for every refusal.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AsyncToolsError } from "../errors.ts";
import type { HttpAuthInfo } from "../mcp/http-channel.ts";
import { PRINCIPAL_EXTRA } from "../mcp/principal.ts";

/** Checks an access token: the SDK's `OAuthTokenVerifier` fits. Throw (e.g. `InvalidTokenError`) to refuse it. */
export interface TokenVerifier {
  verifyAccessToken(token: string): Promise<HttpAuthInfo>;
}

/** OAuth 2.1 resource-server mode. */
export interface OAuthResourceOptions {
  /** Checks each access token: introspection, a JWT library, or your identity provider's SDK. */
  verifier: TokenVerifier;
  /** The authorization servers that issue tokens for this server, as listed in its metadata. */
  authorizationServers: readonly string[];
  /**
   * This server's resource identifier: the public URL of its MCP endpoint (behind a proxy, the outside URL).
   * Default: the URL `serveHttp` listens on. A token whose `resource` names another server is refused.
   */
  resource?: string;
  /** Scopes every token must carry. Default none. */
  requiredScopes?: readonly string[];
  /** Listed in the metadata as `scopes_supported`. Default `requiredScopes`, if any. */
  scopesSupported?: readonly string[];
  /** Listed in the metadata as `resource_name`. */
  resourceName?: string;
  /**
   * The principal a token's jobs belong to. Default: the verified token's subject (`extra.sub` of what the
   * verifier returns), else its client ID (a client ID names an app many users share, so it only stands in).
   * An `extra["async-tools:principal"]` from the verifier is ignored: the server sets it to this choice.
   */
  principal?: (auth: HttpAuthInfo) => string | undefined;
}

/**
 * How callers authenticate: one static token (`{ token }`: one caller, job IDs as without auth), static
 * tokens by principal (`{ tokens: { alice: "T1", bob: "T2" } }`: each key owns its jobs), or OAuth 2.1
 * (`{ oauth }`: each token's subject owns its jobs).
 */
export type HttpAuth =
  | { token: string }
  | { tokens: Readonly<Record<string, string>> }
  | { oauth: OAuthResourceOptions };

/** The outcome of authenticating one request. */
export type AuthOutcome =
  | { ok: true; authInfo?: HttpAuthInfo; principal?: string }
  | { ok: false; response: Response };

/** Authenticates requests; see {@link createAuthenticator}. */
export interface Authenticator {
  authenticate(request: Request): Promise<AuthOutcome>;
  /** Extra routes the mode serves outside the auth (the OAuth metadata), by path. */
  publicRoutes(): Map<string, () => Response>;
}

const BEARER = /^\s*bearer\s+([^\s]+)\s*$/i;

/** The token of an `Authorization: Bearer …` header; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  return BEARER.exec(header)?.[1];
}

function oauthError(status: number, code: string, description: string, challenge?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (challenge !== undefined) headers["www-authenticate"] = challenge;
  return new Response(JSON.stringify({ error: code, error_description: description }), { status, headers });
}

/**
 * Static tokens compared in constant time: each candidate and each expected token go through HMAC-SHA256
 * under a key drawn at start, and the 32-byte digests are compared, every one of them, so neither the
 * outcome's timing nor a length mismatch tells anything about the tokens.
 */
export class StaticTokens implements Authenticator {
  private readonly key = randomBytes(32);
  private readonly expected: { digest: Buffer; principal: string | undefined }[];

  constructor(tokens: { token: string; principal: string | undefined }[]) {
    const seen = new Set<string>();
    for (const { token, principal } of tokens) {
      if (typeof token !== "string" || token.trim() === "" || /\s/.test(token)) {
        throw new AsyncToolsError(
          "INVALID_CONFIG",
          `The bearer token${principal ? ` of ${principal}` : ""} is empty or holds whitespace; give each caller a non-empty token.`,
        );
      }
      if (seen.has(token)) {
        throw new AsyncToolsError(
          "INVALID_CONFIG",
          "Two principals share one bearer token; give each its own.",
        );
      }
      seen.add(token);
    }
    this.expected = tokens.map(({ token, principal }) => ({ digest: this.digest(token), principal }));
  }

  private digest(token: string): Buffer {
    return createHmac("sha256", this.key).update(token).digest();
  }

  async authenticate(request: Request): Promise<AuthOutcome> {
    const token = bearerToken(request.headers.get("authorization"));
    const given = this.digest(token ?? "");
    let match: (typeof this.expected)[number] | undefined;
    for (const candidate of this.expected) {
      if (timingSafeEqual(given, candidate.digest) && token !== undefined) match = candidate;
    }
    if (match === undefined) {
      return {
        ok: false,
        response: oauthError(
          401,
          "invalid_token",
          token === undefined ? "Send Authorization: Bearer <token>." : "The bearer token is not valid.",
          "Bearer",
        ),
      };
    }
    if (match.principal === undefined || token === undefined) return { ok: true };
    return {
      ok: true,
      principal: match.principal,
      authInfo: {
        token,
        clientId: match.principal,
        scopes: [],
        extra: { [PRINCIPAL_EXTRA]: match.principal },
      },
    };
  }

  publicRoutes(): Map<string, () => Response> {
    return new Map();
  }
}

/** The path of a resource's protected-resource metadata (RFC 9728 §3.1): the well-known prefix, then its path. */
export function metadataPathOf(resource: URL): string {
  const path = resource.pathname === "/" ? "" : resource.pathname.replace(/\/$/, "");
  return `/.well-known/oauth-protected-resource${path}`;
}

/** Resource identifiers compare without fragment and without one trailing slash. */
function sameResource(a: URL | string, b: URL): boolean {
  const plain = (value: URL | string) => {
    const url = new URL(String(value));
    url.hash = "";
    return url.href.replace(/\/$/, "");
  };
  try {
    return plain(a) === plain(b);
  } catch {
    return false;
  }
}

/**
 * The OAuth error code of what a verifier threw: the v1 SDK's `OAuthError` subclasses carry it as `errorCode`,
 * the v2 SDK's `OAuthError` as `code`. Only a snake_case `code` counts, so a system error (`ECONNREFUSED`)
 * stays a server error.
 */
function errorCodeOf(error: unknown): string | undefined {
  const { errorCode, code } = (error ?? {}) as { errorCode?: unknown; code?: unknown };
  if (typeof errorCode === "string") return errorCode;
  return typeof code === "string" && /^[a-z][a-z_]*$/.test(code) ? code : undefined;
}

/** A value as an HTTP quoted-string: `\` and `"` escaped, characters outside printable ASCII as spaces. */
function quoted(value: string): string {
  return `"${value.replaceAll(/[\\"]/g, "\\$&").replaceAll(/[^\u0020-\u007E]/g, " ")}"`;
}

/**
 * The default principal of a verified token: its subject (`extra.sub`), else its client ID. Never
 * `extra["async-tools:principal"]`: a verifier that copies every claim into `extra` would let a token name
 * whose jobs it sees; the server sets that key itself, after this choice.
 */
function subjectOf(authInfo: HttpAuthInfo): string | undefined {
  const sub = authInfo.extra?.sub;
  if (typeof sub === "string" && sub !== "") return sub;
  return authInfo.clientId === "" ? undefined : authInfo.clientId;
}

/** OAuth 2.1 resource server: the checks of the SDK's `requireBearerAuth`, over web requests. */
class OAuthResource implements Authenticator {
  private readonly options: OAuthResourceOptions;
  private readonly resource: URL;
  private readonly metadataUrl: string;

  constructor(options: OAuthResourceOptions, resource: URL) {
    if (typeof options.verifier?.verifyAccessToken !== "function") {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        "OAuth mode needs a verifier: { oauth: { verifier, authorizationServers } }.",
      );
    }
    if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        "OAuth mode needs the authorization servers that issue its tokens: { oauth: { authorizationServers: [url] } }.",
      );
    }
    this.options = options;
    this.resource = resource;
    this.metadataUrl = new URL(metadataPathOf(resource), resource).href;
  }

  private challenge(code: string, description: string): string {
    const scopes = this.options.requiredScopes ?? [];
    const scope = scopes.length > 0 ? `, scope=${quoted(scopes.join(" "))}` : "";
    return `Bearer error=${quoted(code)}, error_description=${quoted(description)}${scope}, resource_metadata=${quoted(this.metadataUrl)}`;
  }

  private refuse(status: number, code: string, description: string): AuthOutcome {
    return { ok: false, response: oauthError(status, code, description, this.challenge(code, description)) };
  }

  async authenticate(request: Request): Promise<AuthOutcome> {
    const header = request.headers.get("authorization");
    if (header === null) return this.refuse(401, "invalid_token", "Missing Authorization header");
    const token = bearerToken(header);
    if (token === undefined) {
      return this.refuse(
        401,
        "invalid_token",
        "Invalid Authorization header format, expected 'Bearer TOKEN'",
      );
    }
    let authInfo: HttpAuthInfo;
    try {
      authInfo = await this.options.verifier.verifyAccessToken(token);
    } catch (error) {
      const code = errorCodeOf(error);
      const description = error instanceof Error ? error.message : "The token was refused.";
      if (code === "invalid_token") return this.refuse(401, code, description);
      if (code === "insufficient_scope") return this.refuse(403, code, description);
      if (code !== undefined && code !== "server_error") {
        return { ok: false, response: oauthError(400, code, description) };
      }
      return { ok: false, response: oauthError(500, "server_error", "Internal Server Error") };
    }
    if (authInfo.resource !== undefined && !sameResource(authInfo.resource, this.resource)) {
      return this.refuse(401, "invalid_token", "Token was not issued for this resource");
    }
    const required = this.options.requiredScopes ?? [];
    if (!required.every((scope) => authInfo.scopes?.includes(scope))) {
      return this.refuse(403, "insufficient_scope", "Insufficient scope");
    }
    if (typeof authInfo.expiresAt !== "number" || Number.isNaN(authInfo.expiresAt)) {
      return this.refuse(401, "invalid_token", "Token has no expiration time");
    }
    if (authInfo.expiresAt < Date.now() / 1000) return this.refuse(401, "invalid_token", "Token has expired");
    const chosen = this.options.principal ? this.options.principal(authInfo) : subjectOf(authInfo);
    if (chosen === undefined || chosen === "") {
      return this.refuse(401, "invalid_token", "The token names neither a subject nor a client");
    }
    const bound: HttpAuthInfo = { ...authInfo, extra: { ...authInfo.extra, [PRINCIPAL_EXTRA]: chosen } };
    return { ok: true, authInfo: bound, principal: chosen };
  }

  publicRoutes(): Map<string, () => Response> {
    const scopes = this.options.scopesSupported ?? this.options.requiredScopes;
    const metadata = {
      resource: this.resource.href,
      authorization_servers: [...this.options.authorizationServers],
      ...(scopes && scopes.length > 0 ? { scopes_supported: [...scopes] } : {}),
      bearer_methods_supported: ["header"],
      ...(this.options.resourceName === undefined ? {} : { resource_name: this.options.resourceName }),
    };
    const answer = () =>
      new Response(JSON.stringify(metadata), {
        headers: { "content-type": "application/json", "access-control-allow-origin": "*" },
      });
    // Served at the path RFC 9728 derives from the resource, and at the bare well-known path some clients try.
    return new Map([
      [metadataPathOf(this.resource), answer],
      ["/.well-known/oauth-protected-resource", answer],
    ]);
  }
}

/** A `NAME=TOKEN` flag: a name of word characters, `.`, `@` or `-`, then a token not starting with `=`. */
const NAMED_TOKEN = /^([\w.@-]+)=([^=].*)$/s;

/**
 * The auth of command-line token flags, for CLIs built on `serveHttp`: none for no flags, one token
 * (`--token T`: one caller), or tokens by principal (`--token alice=T1 --token bob=T2`). Base64 padding
 * (`abc=`, `abc==`) reads as part of a plain token. Throws `INVALID_CONFIG` for a mix, or several plain tokens.
 *
 * @example
 * ```ts
 * tokenAuth(["alice=T1", "bob=T2"]); // { tokens: { alice: "T1", bob: "T2" } }
 * ```
 */
export function tokenAuth(flags: readonly string[]): HttpAuth | undefined {
  if (flags.length === 0) return undefined;
  const named = flags.map((flag) => NAMED_TOKEN.exec(flag));
  if (named.every((match) => match === null)) {
    if (flags.length > 1) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        "Several tokens were given without names: name each one's principal, as --token alice=T1 --token bob=T2.",
      );
    }
    return { token: flags[0] as string };
  }
  const tokens: Record<string, string> = {};
  for (const match of named) {
    if (match === null) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        "Mixed plain and named tokens: name every token's principal (--token NAME=TOKEN), or give one plain token.",
      );
    }
    const [, principal, token] = match as unknown as [string, string, string];
    if (principal in tokens) {
      throw new AsyncToolsError("INVALID_CONFIG", `Principal ${principal} was given two tokens.`);
    }
    tokens[principal] = token;
  }
  return { tokens };
}

/** No auth: one caller, no principal. */
const OPEN: Authenticator = {
  authenticate: async () => ({ ok: true }),
  publicRoutes: () => new Map(),
};

/** The authenticator of `auth`; `resource` is the default resource identifier (the endpoint's URL). */
export function createAuthenticator(auth: HttpAuth | undefined, resource: () => URL): Authenticator {
  if (auth === undefined) return OPEN;
  if ("token" in auth) return new StaticTokens([{ token: auth.token, principal: undefined }]);
  if ("tokens" in auth) {
    const entries = Object.entries(auth.tokens);
    if (entries.length === 0) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        "auth.tokens is empty: name at least one principal and its token.",
      );
    }
    return new StaticTokens(entries.map(([principal, token]) => ({ token, principal })));
  }
  if ("oauth" in auth) {
    const given = auth.oauth.resource;
    let url: URL;
    try {
      url = given === undefined ? resource() : new URL(given);
    } catch (error) {
      throw new AsyncToolsError("INVALID_CONFIG", `oauth.resource is not a URL: ${given}`, { cause: error });
    }
    return new OAuthResource(auth.oauth, url);
  }
  throw new AsyncToolsError("INVALID_CONFIG", "auth must be { token }, { tokens } or { oauth }.");
}
