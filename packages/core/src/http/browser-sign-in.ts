/**
 * Browser sign-in for the extra routes (the jobs dashboard) behind static-token auth. A browser cannot send an
 * `Authorization` header from an address bar, so the route answers a sign-in form; the token entered there is
 * checked like a bearer token, and a signed (Hono's signed cookies, HMAC-SHA256), HttpOnly, SameSite=Strict
 * cookie then names the caller for that route only. The cookie carries the principal and an expiry, never the token; the MCP endpoint never takes it.
 * The sign-in itself is bound against login CSRF (a page signing the browser in as the attacker): the form
 * carries a token tied to a cookie set with it, and a POST from any other origin (another localhost port
 * included) is refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { generateCookie, generateSignedCookie } from "hono/cookie";
import { type CookieOptions, parseSigned } from "hono/utils/cookie";
import { DEFAULTS_HTTP } from "../defaults.ts";
import type { Authenticator } from "./auth.ts";

const COOKIE = "async_tools_auth";
/** The cookie, set with the form, that its CSRF field is bound to. */
const FORM_COOKIE = "async_tools_sign_in";
/** The path, under a route's prefix, the sign-in form posts to. */
export const SIGN_IN_PATH = "/_sign-in";

/** Who a signed-in browser is: its principal, or none for a single-token server. */
export type BrowserCaller = { principal: string | undefined };

export class BrowserSignIn {
  private readonly auth: Authenticator;
  private readonly key = randomBytes(32);
  private readonly ttlMs: number;

  constructor(auth: Authenticator, ttlMs: number = DEFAULTS_HTTP.browserSignInMs) {
    this.auth = auth;
    this.ttlMs = ttlMs;
  }

  /**
   * Handles a request under `prefix` that carries no `Authorization` header: the caller its cookie names, or
   * the response to send (the form, or the outcome of signing in).
   */
  async handle(request: Request, prefix: string): Promise<BrowserCaller | Response> {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === `${prefix}${SIGN_IN_PATH}`) {
      return this.signIn(request, prefix);
    }
    const caller = await this.read(request);
    if (caller !== undefined) return caller;
    // 401 for every client, with a form a browser shows: signing in is the way on.
    return this.form(request, prefix, 401);
  }

  /**
   * The sign-in form with its CSRF field, bound to a nonce cookie: the browser's current one (so two tabs
   * share it), else a new one set with the form.
   */
  private form(request: Request, prefix: string, status: number, problem?: string): Response {
    const current = cookieOf(request, FORM_COOKIE);
    const nonce = current !== undefined && /^[\w-]{22,64}$/.test(current) ? current : undefined;
    const bound = nonce ?? randomBytes(18).toString("base64url");
    const response = form(prefix, status, this.csrfFor(bound), problem);
    if (nonce === undefined) {
      response.headers.append(
        "set-cookie",
        `${FORM_COOKIE}=${bound}; HttpOnly; SameSite=Strict; Path=${pathOf(prefix)}${secureOf(request)}`,
      );
    }
    return response;
  }

  private csrfFor(nonce: string): string {
    return this.mac(`sign-in:${nonce}`).toString("base64url");
  }

  /** Whether a sign-in POST comes from the form this route served, on this origin. */
  private fromOwnForm(request: Request, body: URLSearchParams): boolean {
    const origin = request.headers.get("origin");
    if (origin !== null) {
      // Exact: scheme aside (a TLS proxy in front), the same host and port; another localhost port is another site.
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return false;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") return false;
      if (url.host !== (request.headers.get("host") ?? new URL(request.url).host)) return false;
    } else {
      // Browsers send Origin with every POST; without it, fall back on Fetch Metadata (curl sends neither).
      const site = request.headers.get("sec-fetch-site");
      if (site !== null && site !== "same-origin") return false;
    }
    const nonce = cookieOf(request, FORM_COOKIE);
    const given = Buffer.from(body.get("csrf") ?? "", "base64url");
    const expected = nonce === undefined ? undefined : this.mac(`sign-in:${nonce}`);
    return expected !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async signIn(request: Request, prefix: string): Promise<Response> {
    const body = new URLSearchParams(await request.text());
    if (!this.fromOwnForm(request, body)) {
      return this.form(request, prefix, 403, "That sign-in did not come from this page; sign in again here.");
    }
    const token = body.get("token")?.trim() ?? "";
    const headers = new Headers(request.headers);
    headers.set("authorization", `Bearer ${token}`);
    const outcome =
      token === "" ? undefined : await this.auth.authenticate(new Request(request.url, { headers }));
    if (outcome === undefined || !outcome.ok) {
      return this.form(request, prefix, 401, "That token was not accepted.");
    }
    const payload = { p: outcome.principal ?? null, e: Date.now() + this.ttlMs };
    const value = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
    const cookie = await generateSignedCookie(COOKIE, value, this.key, {
      ...cookieOptions(request, prefix),
      maxAge: Math.floor(this.ttlMs / 1000),
    });
    return new Response(null, {
      status: 303,
      headers: { location: `${prefix}/`, "set-cookie": cookie, "cache-control": "no-store" },
    });
  }

  /**
   * Signs the browser out of the route under `prefix`: its cookie is cleared and it is sent to the route's
   * root, which asks it to sign in again. The caller checks that the request comes from its own page.
   */
  signOut(request: Request, prefix: string): Response {
    return new Response(null, {
      status: 303,
      headers: {
        location: `${prefix}/`,
        "set-cookie": generateCookie(COOKIE, "", { ...cookieOptions(request, prefix), maxAge: 0 }),
        "cache-control": "no-store",
      },
    });
  }

  /** The caller the request's signed cookie names, if it carries one that is valid and unexpired. */
  private async read(request: Request): Promise<BrowserCaller | undefined> {
    const header = request.headers.get("cookie");
    if (header === null || !header.includes(COOKIE)) return undefined;
    const value = (await parseSigned(header, this.key, COOKIE))[COOKIE];
    if (typeof value !== "string") return undefined;
    try {
      const data = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as { p: unknown; e: unknown };
      if (typeof data.e !== "number" || data.e < Date.now()) return undefined;
      return { principal: typeof data.p === "string" ? data.p : undefined };
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): Buffer {
    return createHmac("sha256", this.key).update(payload).digest();
  }
}

function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** A cookie's path for a route under `prefix` (`""` is the root). */
function pathOf(prefix: string): string {
  return prefix === "" ? "/" : prefix;
}

/** The session cookie's attributes on a route under `prefix`. */
function cookieOptions(request: Request, prefix: string): CookieOptions {
  return {
    httpOnly: true,
    sameSite: "Strict",
    path: pathOf(prefix),
    ...(new URL(request.url).protocol === "https:" ? { secure: true } : {}),
  };
}

function secureOf(request: Request): string {
  return new URL(request.url).protocol === "https:" ? "; Secure" : "";
}

function form(prefix: string, status: number, csrf: string, problem?: string): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>Sign in</h1>
<p>Enter the token you use for this server.</p>
${problem === undefined ? "" : `<p role="alert" style="color: #b00020">${problem}</p>`}
<form method="post" action="${prefix}${SIGN_IN_PATH}">
<input name="csrf" value="${csrf}" type="hidden">
<input name="token" type="password" autocomplete="current-password" aria-label="token" required autofocus>
<button type="submit">Sign in</button>
</form></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
    },
  });
}
