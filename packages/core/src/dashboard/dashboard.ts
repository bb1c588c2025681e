/**
 * The live web dashboard as a fetch-style handler, `(Request) => Promise<Response>`, so any server can
 * mount it (`serveHttp` at `/jobs`, `async-tools dashboard` on its own). It renders HTML on the server and
 * guards its state-changing actions (cancel, retry) against cross-site requests with an Origin check and a
 * CSRF token; with sign-in, the session cookie is HttpOnly and SameSite=Strict.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { DEFAULTS_DASHBOARD } from "../defaults.ts";
import { JOB_STATUSES, type JobSnapshot } from "../runtime/job-engine.ts";
import type { ElicitationRequest } from "../runtime/questions.ts";
import { type AsyncTools, internalsOf, OPERATOR } from "../runtime/runtime.ts";
import { APP_CSS, APP_JS } from "./assets.ts";
import {
  type JobRow,
  jobHtml,
  jobPage,
  type ListFilters,
  listPage,
  type PageContext,
  rowsHtml,
  signInPage,
  WINDOWS,
} from "./html.ts";

/** Who is looking at the dashboard. */
export interface DashboardPrincipal {
  /** The caller's identity, compared with a job's owner. */
  id: string;
  /** An operator sees and cancels every job; anyone else only their own. */
  operator?: boolean;
}

/** A token a person may sign in with, and who it makes them. */
export interface DashboardToken {
  token: string;
  principal: string;
  operator?: boolean;
}

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** The path the handler is mounted at, e.g. `/jobs`. Default: the root. */
  basePath?: string;
  /**
   * Tokens accepted by the sign-in form. With tokens (or `principalOf`), every page needs a signed-in
   * caller; without either, the dashboard is open: serve it on loopback only.
   */
  tokens?: readonly DashboardToken[];
  /**
   * Who a request comes from, when the host authenticates it (e.g. a bearer token `serveHttp` checked);
   * `undefined` falls back to the sign-in cookie.
   */
  principalOf?: (
    request: Request,
  ) => DashboardPrincipal | undefined | Promise<DashboardPrincipal | undefined>;
  /**
   * The principal a job belongs to. Default: the job's `principal` (from {@link AsyncTools.get}: whoever
   * started it over authenticated HTTP), so each caller sees the jobs it started.
   */
  ownerOf?: (job: JobSnapshot & { principal?: string }) => string | undefined;
  /** How often live parts refresh, ms. Default 1000. */
  pollMs?: number;
  /** Most jobs in the table. Default 100. */
  maxRows?: number;
}

/** A fetch-style request handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

const COOKIE = "async_tools_session";
const STATUSES = new Set<string>(JOB_STATUSES.filter((s) => s !== "not_found"));

/**
 * The dashboard of `runtime`'s jobs as a fetch handler: a live table with filters, a page per job with its
 * step timeline, and a cancel button.
 *
 * @example
 * ```ts
 * import { createDashboard, serveDashboard } from "@async-tools/core/dashboard";
 *
 * const dashboard = createDashboard(runtime, { basePath: "/jobs" });
 * const served = await serveDashboard(dashboard, { port: 4319 });
 * console.error(`dashboard at ${served.url}/jobs`);
 * ```
 */
export function createDashboard(runtime: AsyncTools, options: DashboardOptions = {}): FetchHandler {
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  const pollMs = options.pollMs ?? DEFAULTS_DASHBOARD.pollMs;
  const maxRows = options.maxRows ?? DEFAULTS_DASHBOARD.maxRows;
  const ownerOf = options.ownerOf ?? ((job) => job.principal);
  const secret = randomBytes(32);
  const sessions = new Map<string, { principal: DashboardPrincipal; expires: number }>();
  const tokens = (options.tokens ?? []).map((t) => ({ ...t, digest: digest(t.token) }));
  const guarded = tokens.length > 0 || options.principalOf !== undefined;

  const csrfFor = (session: string) =>
    createHmac("sha256", secret).update(`csrf:${session}`).digest("base64url");

  /** The caller and the key their CSRF token is bound to; `undefined` when a guarded dashboard has none. */
  async function caller(
    request: Request,
  ): Promise<{ principal: DashboardPrincipal; key: string } | undefined> {
    const hosted = await options.principalOf?.(request);
    if (hosted !== undefined) return { principal: hosted, key: `principal:${hosted.id}` };
    const sid = cookie(request, COOKIE);
    const session = sid === undefined ? undefined : sessions.get(sid);
    if (sid !== undefined && session !== undefined) {
      if (session.expires > Date.now()) return { principal: session.principal, key: `session:${sid}` };
      sessions.delete(sid);
    }
    if (!guarded) return { principal: { id: "local", operator: true }, key: "open" };
    return undefined;
  }

  function visible(principal: DashboardPrincipal, job: JobSnapshot & { principal?: string }): boolean {
    return principal.operator === true || ownerOf(job) === principal.id;
  }

  /**
   * The newest jobs matching `filters` that `principal` may see. The job index is read whole (cheap; for a
   * caller who is no operator, only its own rows, by the index's principal), and jobs are read from the
   * newest back only until the table is full, so a large store costs a poll little.
   */
  async function rows(principal: DashboardPrincipal, filters: ListFilters): Promise<JobRow[]> {
    const window = WINDOWS.find(([v]) => v === (filters.since ?? "24h"))?.[2] ?? Number.POSITIVE_INFINITY;
    const since = Date.now() - window;
    const status = filters.status !== undefined && STATUSES.has(filters.status) ? filters.status : undefined;
    const { meta, engine } = internalsOf(runtime);
    // Owners told apart by `ownerOf` are no principals the index knows; then every row is read and checked.
    const own = principal.operator !== true && options.ownerOf === undefined ? principal.id : undefined;
    const ids: string[] = [];
    let cursor: number | undefined;
    do {
      const page = await meta.list({
        limit: 1000,
        ...(filters.tool ? { tool: filters.tool } : {}),
        ...(own === undefined ? {} : { principal: own }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const row of page.rows) if (row.createdAt >= since) ids.push(row.id);
      cursor = page.next;
    } while (cursor !== undefined);
    const shown: JobRow[] = [];
    for (let i = ids.length - 1; i >= 0 && shown.length < maxRows; i -= 1) {
      // Every principal's jobs are read; who may see which is `visible`'s call (an operator sees all).
      const snapshot = await engine.snapshot(ids[i] as string, false, { everyone: true });
      if (status !== undefined && snapshot.status !== status) continue;
      const detail = await runtime.get(snapshot.jobId, OPERATOR);
      if (!visible(principal, detail)) continue;
      const attempts = detail.steps.reduce((n, step) => n + step.attempts.length, 0);
      const { input, steps: _steps, result: _result, ...job } = detail;
      shown.push({ job, input, attempts });
    }
    return shown;
  }

  function filtersOf(url: URL): ListFilters {
    const get = (name: string) => url.searchParams.get(name) || undefined;
    const tool = get("tool");
    const status = get("status");
    const since = get("since");
    return {
      ...(tool === undefined ? {} : { tool }),
      ...(status === undefined ? {} : { status }),
      ...(since === undefined ? {} : { since }),
    };
  }

  /** Whether a state-changing request comes from this dashboard's own pages. */
  function sameOrigin(request: Request, url: URL): boolean {
    const origin = request.headers.get("origin");
    if (origin !== null) return origin === url.origin;
    // Browsers send Origin with every POST; without it, fall back on Fetch Metadata.
    const site = request.headers.get("sec-fetch-site");
    return site === null || site === "same-origin";
  }

  return async function dashboard(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(base)) return text(404, "Not found");
    const path = url.pathname.slice(base.length) || "/";
    const method = request.method.toUpperCase();

    if (method === "GET" && path === "/assets/app.css") return asset(APP_CSS, "text/css; charset=utf-8");
    if (method === "GET" && path === "/assets/app.js") return asset(APP_JS, "text/javascript; charset=utf-8");

    const ctxFor = (key: string, who?: string): PageContext => ({
      base,
      csrf: csrfFor(key),
      now: Date.now(),
      pollMs,
      ...(who === undefined ? {} : { who }),
    });

    if (path === "/signin" && tokens.length > 0) {
      if (method === "GET") return html(200, signInPage(ctxFor("signin"), false));
      if (method !== "POST") return text(405, "Method not allowed");
      const form = await request.formData();
      if (!sameOrigin(request, url) || !equal(String(form.get("csrf") ?? ""), csrfFor("signin"))) {
        return text(403, "Cross-site request refused.");
      }
      const given = digest(String(form.get("token") ?? ""));
      const match = tokens.find((t) => timingSafeEqual(t.digest, given));
      if (match === undefined) return html(401, signInPage(ctxFor("signin"), true));
      const sid = randomBytes(24).toString("base64url");
      const principal: DashboardPrincipal = {
        id: match.principal,
        ...(match.operator ? { operator: true } : {}),
      };
      sessions.set(sid, { principal, expires: Date.now() + DEFAULTS_DASHBOARD.sessionMs });
      const secure = url.protocol === "https:" ? "; Secure" : "";
      return redirect(`${base}/`, {
        "set-cookie": `${COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=${base || "/"}; Max-Age=${Math.floor(DEFAULTS_DASHBOARD.sessionMs / 1000)}${secure}`,
      });
    }

    const who = await caller(request);
    if (who === undefined) {
      // Only a dashboard with tokens has a sign-in form; behind a host's own auth, the host signs people in.
      if (tokens.length > 0 && method === "GET" && !path.startsWith("/fragments/")) {
        return redirect(`${base}/signin`);
      }
      return text(401, "Sign in first.");
    }
    const ctx = ctxFor(who.key, guarded ? who.principal.id : undefined);

    if (method === "POST") {
      const form = await request.formData().catch(() => undefined);
      if (
        !sameOrigin(request, url) ||
        form === undefined ||
        !equal(String(form.get("csrf") ?? ""), ctx.csrf)
      ) {
        return text(403, "Cross-site request refused.");
      }
      if (path === "/signout") {
        const sid = cookie(request, COOKIE);
        if (sid !== undefined) sessions.delete(sid);
        return redirect(`${base}/signin`, {
          "set-cookie": `${COOKIE}=; HttpOnly; SameSite=Strict; Path=${base || "/"}; Max-Age=0`,
        });
      }
      const answering = /^\/job\/([^/]+)\/answer$/.exec(path);
      if (answering !== null) {
        const id = decodeURIComponent(answering[1] as string);
        const job = await runtime.get(id, OPERATOR);
        if (job.status === "not_found" || !visible(who.principal, job)) return text(404, "No such job.");
        const outcome = await runtime.answer(id, answerOf(job, form), OPERATOR);
        if (outcome.status !== "ok") {
          return text(400, outcome.status === "invalid" ? outcome.reason : "No such job.");
        }
        return redirect(`${base}/job/${encodeURIComponent(id)}`);
      }
      const action = /^\/job\/([^/]+)\/(cancel|retry)$/.exec(path);
      if (action !== null) {
        const id = decodeURIComponent(action[1] as string);
        const job = await runtime.get(id, OPERATOR);
        if (job.status === "not_found" || !visible(who.principal, job)) {
          return text(404, "No such job.");
        }
        if (action[2] === "retry") {
          const rerun = await runtime.retry(id, OPERATOR);
          return redirect(`${base}/job/${encodeURIComponent(rerun.jobId)}`);
        }
        await runtime.cancel(id, `cancelled from the dashboard by ${who.principal.id}`, OPERATOR);
        return redirect(`${base}/job/${encodeURIComponent(id)}`);
      }
      return text(404, "Not found");
    }
    if (method !== "GET") return text(405, "Method not allowed");

    if (path === "/") {
      const filters = filtersOf(url);
      const listed = await rows(who.principal, filters);
      // A runtime without tools (the CLI's) knows tools only from their jobs.
      const names = new Set([
        ...runtime.tools.map((t) => t.name),
        ...listed.flatMap((r) => r.job.tool ?? []),
      ]);
      if (filters.tool !== undefined) names.add(filters.tool);
      return html(200, listPage(ctx, [...names].sort(), filters, listed));
    }
    if (path === "/fragments/rows")
      return html(200, rowsHtml(ctx, await rows(who.principal, filtersOf(url))));
    const job = /^\/(fragments\/)?job\/([^/]+)$/.exec(path);
    if (job !== null) {
      const detail = await runtime.get(decodeURIComponent(job[2] as string), OPERATOR);
      if (detail.status !== "not_found" && !visible(who.principal, detail)) return text(404, "No such job.");
      if (job[1] === undefined) return html(detail.status === "not_found" ? 404 : 200, jobPage(ctx, detail));
      const finished = detail.status !== "queued" && detail.status !== "working";
      return html(200, jobHtml(ctx, detail), finished ? { "x-job-finished": "1" } : {});
    }
    return text(404, "Not found");
  };
}

/** Options of {@link dashboardRoute}. */
export interface DashboardRouteOptions extends Omit<DashboardOptions, "principalOf" | "tokens"> {
  /** Principals (as `serveHttp`'s auth names them) that see and act on every job, not only their own. */
  operators?: readonly string[];
}

/** The name a caller has on the dashboard when `serveHttp` authenticates no principal (one caller). */
const SOLE_CALLER = "operator";

/**
 * The dashboard as a `serveHttp` route (`routes: { "/jobs": dashboardRoute(runtime) }`), behind the server's
 * own auth: the caller is the principal that auth names, and sees the jobs it started; a principal listed in
 * `operators` sees every job. Without principals (no auth, or one token), the one caller sees every job.
 *
 * @example
 * ```ts
 * const http = await serveHttp(runtime, {
 *   auth: { tokens: { alice: "T1", ops: "T2" } },
 *   routes: { "/jobs": dashboardRoute(runtime, { operators: ["ops"] }) },
 * });
 * ```
 */
export function dashboardRoute(
  runtime: AsyncTools,
  options: DashboardRouteOptions = {},
): (request: Request, context: { principal?: string }) => Promise<Response> {
  const { operators = [], ...rest } = options;
  const operatorSet = new Set(operators);
  // The principal comes from the route's context, never from a header a client could send.
  const callers = new WeakMap<Request, DashboardPrincipal>();
  const handler = createDashboard(runtime, {
    basePath: "/jobs",
    ...rest,
    principalOf: (request) => callers.get(request),
  });
  return (request, { principal }) => {
    callers.set(
      request,
      principal === undefined
        ? { id: SOLE_CALLER, operator: true }
        : { id: principal, ...(operatorSet.has(principal) ? { operator: true } : {}) },
    );
    return handler(request);
  };
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

function html(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", ...headers },
  });
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" },
  });
}

function asset(body: string, type: string): Response {
  return new Response(body, {
    headers: { "content-type": type, "cache-control": "max-age=300", "x-content-type-options": "nosniff" },
  });
}

function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { ...SECURITY_HEADERS, location, ...headers } });
}

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

/** Fixed-length digests, so comparing tokens takes the same time whatever they are. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function equal(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The answers a question form posted: the form's fields typed by the question's schema, or a decline. */
function answerOf(job: JobSnapshot, form: FormData): Record<string, unknown> {
  const questionId = String(form.get("question") ?? "");
  const question = job.questions?.find((q) => q.id === questionId);
  if (form.get("action") !== "accept") return { [questionId]: { action: "decline" } };
  const content: Record<string, unknown> = {};
  const schema = (question?.request as ElicitationRequest | undefined)?.requestedSchema;
  for (const [name, p] of Object.entries(schema?.properties ?? {})) {
    const key = `field:${name}`;
    const raw = form.get(key);
    if (p.type === "boolean") content[name] = raw !== null;
    else if (p.type === "array") content[name] = form.getAll(key).map(String);
    else if (raw === null || raw === "") continue;
    else content[name] = p.type === "number" || p.type === "integer" ? Number(raw) : String(raw);
  }
  return { [questionId]: { action: "accept", content } };
}
