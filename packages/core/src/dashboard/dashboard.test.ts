import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { countingNetwork } from "../../test/helpers.ts";
import { defineAsyncTool } from "../define.ts";
import { createAsyncTools, internalsOf } from "../runtime/runtime.ts";
import { createDashboard, type DashboardOptions } from "./dashboard.ts";

const ORIGIN = "http://127.0.0.1:9999";
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0)) await step();
});

const never = new Promise<string>(() => undefined);
const slow = defineAsyncTool({
  name: "slow",
  description: "Never finishes",
  input: z.object({ who: z.string() }),
  run: async (ctx, { who }) => {
    ctx.progress(0.25, "started");
    return ctx.run("forever", () => never.then(() => who));
  },
});

async function setup(options: DashboardOptions = {}) {
  const runtime = await createAsyncTools({ store: "memory", tools: [slow] });
  cleanup.push(() => runtime.close());
  const alice = await runtime.start(slow, { who: "alice" });
  const bob = await runtime.start(slow, { who: "bob" });
  const owners = new Map([
    [alice.jobId, "alice"],
    [bob.jobId, "bob"],
  ]);
  const handler = createDashboard(runtime, { ownerOf: (job) => owners.get(job.jobId), ...options });
  const fetch = (path: string, init: RequestInit = {}) => handler(new Request(`${ORIGIN}${path}`, init));
  return { runtime, fetch, alice: alice.jobId, bob: bob.jobId };
}

const TOKENS = [
  { token: "alice-token", principal: "alice" },
  { token: "ops-token", principal: "ops", operator: true },
];

/** Signs in through the form a page without a session answers, carrying its cookie like a browser. */
async function signIn(fetch: (path: string, init?: RequestInit) => Promise<Response>, token: string) {
  const form = await fetch("/");
  const cookie = (form.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
  return fetch("/_sign-in", {
    method: "POST",
    headers: { origin: ORIGIN, cookie },
    body: new URLSearchParams({ token, csrf }),
  });
}

function csrfOf(html: string): string {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
}

describe("createDashboard", () => {
  it("renders the jobs table with tool, input, status, progress and a live fragment", async () => {
    const { fetch, alice } = await setup();
    const res = await fetch("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain(`data-job="${alice}"`);
    expect(html).toContain("{&quot;who&quot;:&quot;alice&quot;}");
    expect(html).toContain('aria-valuenow="25"');
    expect(html).toContain('data-live="/fragments/rows"');
    const fragment = await (await fetch("/fragments/rows?status=completed")).text();
    expect(fragment).toContain("No jobs match.");
  });

  it("escapes what jobs carry, so an input cannot inject markup", async () => {
    const { fetch, runtime } = await setup();
    const evil = await runtime.start(slow, { who: '<script>alert("x")</script>' });
    const list = await (await fetch("/")).text();
    const page = await (await fetch(`/job/${evil.jobId}`)).text();
    for (const html of [list, page]) {
      expect(html).not.toContain("<script>alert");
      expect(html).toContain("&lt;script&gt;alert");
    }
  });

  it("shows a job page with its input and steps, and 404 for an unknown job", async () => {
    const { fetch, alice } = await setup();
    const html = await (await fetch(`/job/${alice}`)).text();
    expect(html).toContain("<h2>Input</h2>");
    expect(html).toContain("&quot;who&quot;: &quot;alice&quot;");
    expect(html).toMatch(/<h2>Steps<\/h2>/);
    expect((await fetch("/job/nope")).status).toBe(404);
  });

  it("cancels a job on a same-origin POST with the page's CSRF token, and refuses cross-site ones", async () => {
    const { fetch, runtime, alice } = await setup();
    const csrf = csrfOf(await (await fetch("/")).text());
    const post = (headers: Record<string, string>, token: string) =>
      fetch(`/job/${alice}/cancel`, { method: "POST", headers, body: new URLSearchParams({ csrf: token }) });
    expect((await post({ origin: "https://evil.example" }, csrf)).status).toBe(403);
    expect((await post({ origin: ORIGIN }, "forged")).status).toBe(403);
    expect((await post({ "sec-fetch-site": "cross-site" }, csrf)).status).toBe(403);
    expect((await runtime.probe([alice]))[0]?.status).toBe("working");
    const ok = await post({ origin: ORIGIN }, csrf);
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/job/${alice}`);
    expect((await runtime.probe([alice]))[0]?.status).toBe("cancelled");

    // The cancelled job's page offers a retry, which starts a fresh run and shows it.
    const page = await (await fetch(`/job/${alice}`)).text();
    expect(page).toContain(`action="/job/${alice}/retry"`);
    const retried = await fetch(`/job/${alice}/retry`, {
      method: "POST",
      headers: { origin: ORIGIN },
      body: new URLSearchParams({ csrf }),
    });
    expect(retried.status).toBe(303);
    expect(retried.headers.get("location")).toBe(`/job/${alice}.r2`);
    expect((await runtime.probe([`${alice}.r2`]))[0]?.status).toBe("working");

    // A second Retry (a double click, another tab) shows the run that is already working; it starts none.
    const again = await fetch(`/job/${alice}/retry`, {
      method: "POST",
      headers: { origin: ORIGIN },
      body: new URLSearchParams({ csrf }),
    });
    expect(again.headers.get("location")).toBe(`/job/${alice}.r2`);
    expect((await runtime.probe([`${alice}.r3`]))[0]?.status).toBe("not_found");
  });

  it("shows a question as a form and answers it, refusing what the form does not allow", async () => {
    const asking = defineAsyncTool({
      name: "asking",
      description: "Asks how many",
      input: z.object({ who: z.string() }),
      run: async (ctx) => {
        const answer = await ctx.ask("how", {
          message: "How many & which?",
          schema: z.object({ count: z.number().int(), ok: z.boolean(), colour: z.enum(["red", "blue"]) }),
        });
        return answer;
      },
    });
    const runtime = await createAsyncTools({ store: "memory", tools: [asking] });
    cleanup.push(() => runtime.close());
    const job = await runtime.start(asking, { who: "alice" });
    const handler = createDashboard(runtime, { ownerOf: () => "alice" });
    const fetch = (path: string, init: RequestInit = {}) => handler(new Request(`${ORIGIN}${path}`, init));
    await expect.poll(async () => (await runtime.probe([job.jobId]))[0]?.status).toBe("input_required");
    const page = await (await fetch(`/job/${job.jobId}`)).text();
    expect(page).toContain("How many &amp; which?");
    expect(page).toContain(`action="/job/${job.jobId}/answer"`);
    expect(page).toContain('name="field:count"');
    const csrf = csrfOf(page);
    const post = (fields: Record<string, string>) =>
      fetch(`/job/${job.jobId}/answer`, {
        method: "POST",
        headers: { origin: ORIGIN },
        body: new URLSearchParams({ csrf, question: `${job.jobId}/how`, action: "accept", ...fields }),
      });
    const refused = await post({ "field:count": "2.5", "field:colour": "red" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("count must be an integer");
    const ok = await post({ "field:count": "3", "field:ok": "on", "field:colour": "blue" });
    expect(ok.status).toBe(303);
    expect((await runtime.waitFor(asking, job.jobId, 30_000)).result).toEqual({
      action: "accept",
      content: { count: 3, ok: true, colour: "blue" },
    });
  });

  it("with tokens, signs in through the HTTP face's form, which sets a signed HttpOnly SameSite=Strict cookie, and shows a caller their own jobs", async () => {
    const { fetch, alice, bob } = await setup({ tokens: TOKENS, basePath: "" });
    const anonymous = await fetch("/");
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain('action="/_sign-in"');
    expect((await fetch("/fragments/rows")).status).toBe(401);
    expect((await signIn(fetch, "wrong")).status).toBe(401);

    const signedIn = await signIn(fetch, "alice-token");
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/");
    const cookie = signedIn.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^async_tools_auth=[\w-]+\.[\w%-]+; /);
    expect(cookie).toContain("; HttpOnly");
    expect(cookie).toContain("; SameSite=Strict");
    expect(cookie).toContain("; Path=/;");
    const session = cookie.split(";")[0] as string;
    const html = await (await fetch("/", { headers: { cookie: session } })).text();
    expect(html).toContain(`data-job="${alice}"`);
    expect(html).not.toContain(`data-job="${bob}"`);
    expect((await fetch(`/job/${bob}`, { headers: { cookie: session } })).status).toBe(404);
    const csrf = csrfOf(html);
    const other = await fetch(`/job/${bob}/cancel`, {
      method: "POST",
      headers: { cookie: session, origin: ORIGIN },
      body: new URLSearchParams({ csrf }),
    });
    expect(other.status).toBe(404);

    // A forged cookie names nobody.
    const forged = session.replace(/\.[\w%-]+$/, ".AAAA");
    expect((await fetch("/", { headers: { cookie: forged } })).status).toBe(401);

    const ops = (await signIn(fetch, "ops-token")).headers.get("set-cookie")?.split(";")[0] as string;
    const all = await (await fetch("/", { headers: { cookie: ops } })).text();
    expect(all).toContain(`data-job="${alice}"`);
    expect(all).toContain(`data-job="${bob}"`);

    // Signing out clears the cookie.
    const out = await fetch("/signout", {
      method: "POST",
      headers: { cookie: ops, origin: ORIGIN },
      body: new URLSearchParams({ csrf: csrfOf(all) }),
    });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/^async_tools_auth=; .*Max-Age=0/);
  });

  it("takes the caller from principalOf when the host authenticates requests, under its base path", async () => {
    const { fetch, alice, bob } = await setup({
      basePath: "/jobs",
      principalOf: (request) => {
        const who = request.headers.get("x-user");
        return who === null ? undefined : { id: who };
      },
    });
    expect((await fetch("/jobs/")).status).toBe(401);
    expect((await fetch("/jobs/_sign-in", { method: "POST", headers: { origin: ORIGIN } })).status).toBe(401);
    const html = await (await fetch("/jobs/", { headers: { "x-user": "bob" } })).text();
    expect(html).toContain(`data-job="${bob}"`);
    expect(html).not.toContain(`data-job="${alice}"`);
    expect(html).toContain('href="/jobs/assets/app.css"');
    expect((await fetch("/jobs/assets/app.js")).headers.get("content-type")).toContain("javascript");
  });
});

describe("a dashboard poll by a caller who owns no jobs", () => {
  it("reads none of the other principals' jobs from the store", async () => {
    const { network, counts } = countingNetwork();
    const quick = defineAsyncTool({
      name: "quick",
      description: "Returns at once",
      input: z.object({ n: z.number() }),
      run: async (_ctx, { n }) => n,
    });
    const runtime = await createAsyncTools({ store: network, tools: [quick] });
    cleanup.push(() => runtime.close());
    for (let n = 0; n < 300; n += 1) await runtime.start(quick, { n }, { principal: "alice" });
    const mine = await runtime.start(quick, { n: 1 }, { principal: "bob" });
    const handler = createDashboard(runtime, { principalOf: async () => ({ id: "bob" }) });
    counts.clear();
    const html = await (await handler(new Request(`${ORIGIN}/fragments/rows`))).text();
    expect(html).toContain(`data-job="${mine.jobId}"`);
    // Bob's one job is read; alice's 300 are not (each would cost reads of its promise).
    const sent = [...counts.values()].reduce((sum, n) => sum + n, 0);
    expect(sent).toBeLessThan(20);
  });
});

describe("a dashboard poll of a large store", () => {
  it("reads about one table of the job index, newest first, not the whole index", async () => {
    const quick = defineAsyncTool({
      name: "quick",
      description: "Returns at once",
      input: z.object({ n: z.number() }),
      run: async (_ctx, { n }) => n,
    });
    const runtime = await createAsyncTools({ store: "memory", tools: [quick] });
    cleanup.push(() => runtime.close());
    const started: string[] = [];
    for (let n = 0; n < 300; n += 1) started.push((await runtime.start(quick, { n })).jobId);
    const { meta } = internalsOf(runtime);
    const list = meta.list.bind(meta);
    let rowsRead = 0;
    meta.list = async (options) => {
      const page = await list(options);
      rowsRead += page.rows.length;
      return page;
    };
    const handler = createDashboard(runtime, { maxRows: 10 });
    const html = await (await handler(new Request(`${ORIGIN}/fragments/rows`))).text();
    const shown = [...html.matchAll(/data-job="([^"]+)"/g)].map((m) => m[1]);
    expect(shown).toEqual(started.slice(-10).reverse());
    expect(rowsRead).toBeLessThanOrEqual(10);
  });
});
