import { afterEach, describe, expect, it } from "vitest";
import { DEFAULTS_HTTP } from "../defaults.ts";
import { type AsyncTools, createAsyncTools } from "../runtime/runtime.ts";
import { createHttpHandler, type HttpHandler, PRINCIPAL_HEADER } from "./handler.ts";

const BASE = "http://127.0.0.1:3000";
const open: (HttpHandler | AsyncTools)[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

/** A server with two callers' tokens and a route that says who it sees. */
async function serve(auth: { tokens: Record<string, string> } | { token: string }) {
  const runtime = await createAsyncTools({ store: "memory", tools: [] });
  open.push(runtime);
  const http = createHttpHandler(runtime, {
    auth,
    routes: {
      "/jobs": async (request, { principal }) =>
        new Response(
          `seen as ${principal ?? "(sole caller)"}; header ${request.headers.get(PRINCIPAL_HEADER)}`,
        ),
    },
  });
  open.push(http);
  return (path: string, init: RequestInit = {}) => http.fetch(new Request(`${BASE}${path}`, init));
}

type Fetch = (path: string, init?: RequestInit) => Promise<Response>;

/** The sign-in POST a browser sends after loading the form: its CSRF field, and the cookie that came with it. */
async function signInForm(
  fetch: Fetch,
  token: string,
  { origin = BASE }: { origin?: string | null } = {},
): Promise<RequestInit> {
  const page = await fetch("/jobs/");
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
  return {
    method: "POST",
    body: new URLSearchParams({ token, csrf }).toString(),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie,
      ...(origin === null ? {} : { origin }),
    },
  };
}

describe("signing a browser in to the extra routes", () => {
  it("answers a sign-in form, then a signed HttpOnly SameSite=Strict cookie names the caller for that route", async () => {
    const fetch = await serve({ tokens: { alice: "alice-secret-token", bob: "bob-secret-token" } });
    const page = await fetch("/jobs/");
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/jobs/_sign-in"');

    const signedIn = await fetch("/jobs/_sign-in", await signInForm(fetch, "alice-secret-token"));
    expect(signedIn.status).toBe(303);
    const setCookie = signedIn.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^async_tools_auth=[\w-]+\.[\w%-]+; /);
    expect(setCookie.split("; ").slice(1).sort()).toEqual([
      "HttpOnly",
      `Max-Age=${DEFAULTS_HTTP.browserSignInMs / 1000}`,
      "Path=/jobs",
      "SameSite=Strict",
    ]);
    // The cookie names the caller; the token itself never leaves the form.
    expect(setCookie).not.toContain("alice-secret-token");
    expect(setCookie).not.toContain(Buffer.from("alice-secret-token").toString("base64url").slice(0, 12));
    const cookie = setCookie.split(";")[0] ?? "";

    const seen = await fetch("/jobs/", { headers: { cookie } });
    expect(await seen.text()).toBe("seen as alice; header alice");
  });

  it("refuses a sign-in without the form's CSRF token or from another origin, even another localhost port", async () => {
    const fetch = await serve({ tokens: { alice: "T1" } });
    const noCsrf = await fetch("/jobs/_sign-in", {
      method: "POST",
      body: new URLSearchParams({ token: "T1" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.headers.get("set-cookie") ?? "").not.toContain("async_tools_auth");

    // The form's field without the cookie that came with it (a page that fetched a form for itself).
    const borrowed = await signInForm(fetch, "T1");
    const withoutCookie = new Headers(borrowed.headers);
    withoutCookie.delete("cookie");
    const unbound = await fetch("/jobs/_sign-in", { ...borrowed, headers: withoutCookie });
    expect(unbound.status).toBe(403);

    for (const origin of ["http://127.0.0.1:4000", "http://localhost:3000", "null"]) {
      const other = await fetch("/jobs/_sign-in", await signInForm(fetch, "T1", { origin }));
      expect(other.status, origin).toBe(403);
      expect(other.headers.get("set-cookie") ?? "").not.toContain("async_tools_auth");
    }
    const crossSite = await signInForm(fetch, "T1", { origin: null });
    const fetchMetadata = new Headers(crossSite.headers);
    fetchMetadata.set("sec-fetch-site", "same-site");
    expect((await fetch("/jobs/_sign-in", { ...crossSite, headers: fetchMetadata })).status).toBe(403);

    // The same form from the page's own origin, and from a client that sends no Origin (curl), signs in.
    expect((await fetch("/jobs/_sign-in", await signInForm(fetch, "T1"))).status).toBe(303);
    expect((await fetch("/jobs/_sign-in", await signInForm(fetch, "T1", { origin: null }))).status).toBe(303);
  });

  it("refuses a wrong token, a tampered cookie, and the cookie on the MCP endpoint", async () => {
    const fetch = await serve({ tokens: { alice: "T1", bob: "T2" } });
    const wrong = await fetch("/jobs/_sign-in", await signInForm(fetch, "T3"));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("not accepted");

    const cookie =
      (await fetch("/jobs/_sign-in", await signInForm(fetch, "T2"))).headers
        .get("set-cookie")
        ?.split(";")[0] ?? "";
    const [name, value = ""] = cookie.split("=");
    const [payload = "", signature = ""] = value.split(".");
    const forged = Buffer.from(JSON.stringify({ p: "alice", e: Date.now() + 60_000 })).toString("base64url");
    const tampered = await fetch("/jobs/", { headers: { cookie: `${name}=${forged}.${signature}` } });
    expect(await tampered.text()).toContain("Sign in");
    expect(payload).not.toBe(forged);

    const mcp = await fetch("/mcp", {
      method: "POST",
      headers: { cookie, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(mcp.status).toBe(401);
  });

  it("still takes a bearer token on the route, and signs in the sole caller of a single-token server", async () => {
    const fetch = await serve({ token: "only" });
    const bearer = await fetch("/jobs/", { headers: { authorization: "bearer only" } });
    expect(await bearer.text()).toBe("seen as (sole caller); header null");
    const cookie =
      (await fetch("/jobs/_sign-in", await signInForm(fetch, "only"))).headers
        .get("set-cookie")
        ?.split(";")[0] ?? "";
    expect(await (await fetch("/jobs/", { headers: { cookie } })).text()).toBe(
      "seen as (sole caller); header null",
    );
  });
});
