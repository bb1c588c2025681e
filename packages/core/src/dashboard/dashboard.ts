/**
 * The live web dashboard as a Hono app behind a fetch-style handler, `(Request) => Promise<Response>`, so any
 * server can mount it (`serveHttp` at `/jobs`, `async-tools dashboard` on its own). It renders HTML on the
 * server (`hono/html`), refuses cross-site posts (`hono/csrf`, and a token bound to the caller in each form),
 * and signs people in with the HTTP face's own browser sign-in (a signed, HttpOnly, SameSite=Strict cookie).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import { DEFAULTS_DASHBOARD } from "../defaults.ts";
import { StaticTokens } from "../http/auth.ts";
import { BrowserSignIn } from "../http/browser-sign-in.ts";
import { answerProblemText } from "../internal/format.ts";
import type { ElicitationRequest } from "../question-types.ts";
import { isUnfinished, type JobSnapshot } from "../runtime/job.ts";
import type { JobDetail } from "../runtime/job-detail.ts";
import { type AsyncTools, OPERATOR } from "../runtime/runtime.ts";
import { type AssetName, assetText } from "./assets.ts";
import {
  type Html,
  jobHtml,
  jobPage,
  jobPath,
  type ListFilters,
  listPage,
  type PageContext,
  rowsHtml,
} from "./html.ts";
import { jobRows } from "./job-rows.ts";

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

/** What every route after the caller check finds in its context. */
type DashboardEnv = {
  Variables: {
    /** The caller. */
    principal: DashboardPrincipal;
    /** What pages need to link and post back. */
    page: PageContext;
  };
};

const ASSET_TYPES: Record<AssetName, string> = {
  "app.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
};

/**
 * The dashboard of `runtime`'s jobs as a fetch handler: a live table with filters, a page per job with its
 * step timeline, and cancel and retry buttons.
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
  const tokens = options.tokens ?? [];
  const operators = new Set(tokens.filter((t) => t.operator === true).map((t) => t.principal));
  const signIn =
    tokens.length > 0
      ? new BrowserSignIn(
          new StaticTokens(tokens.map(({ token, principal }) => ({ token, principal }))),
          DEFAULTS_DASHBOARD.sessionMs,
        )
      : undefined;
  const guarded = signIn !== undefined || options.principalOf !== undefined;

  const csrfFor = (principal: DashboardPrincipal) =>
    createHmac("sha256", secret).update(`csrf:${principal.id}`).digest("base64url");
  const visible = (principal: DashboardPrincipal, job: JobSnapshot & { principal?: string }) =>
    principal.operator === true || ownerOf(job) === principal.id;

  const app = new Hono<DashboardEnv>().basePath(base);
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "same-origin",
    }),
  );

  // Outside the sign-in: the sign-in form itself is styled by nothing else.
  app.get("/assets/:name", (c) => {
    const name = c.req.param("name") as AssetName;
    if (!Object.hasOwn(ASSET_TYPES, name)) return c.text("Not found", 404);
    return c.body(assetText(name), 200, {
      "content-type": ASSET_TYPES[name],
      "cache-control": "max-age=300",
    });
  });

  app.use("*", async (c, next) => {
    c.header("cache-control", "no-store");
    const principal = await callerOf(c.req.raw);
    if (principal instanceof Response) return principal;
    c.set("principal", principal);
    c.set("page", {
      base,
      csrf: csrfFor(principal),
      now: Date.now(),
      pollMs,
      ...(guarded ? { who: principal.id } : {}),
    });
    await next();
  });

  /** The caller, or the answer for a request without one (the sign-in form, or 401). */
  async function callerOf(request: Request): Promise<DashboardPrincipal | Response> {
    const hosted = await options.principalOf?.(request);
    if (hosted !== undefined) return hosted;
    if (signIn !== undefined) {
      const answer = await signIn.handle(request, base);
      if (answer instanceof Response) return answer;
      const id = answer.principal ?? "";
      return { id, ...(operators.has(id) ? { operator: true } : {}) };
    }
    // Behind a host's own auth, the host signs people in.
    if (guarded) return new Response("Sign in first.", { status: 401 });
    return { id: "local", operator: true };
  }

  // Every post comes from this dashboard's pages: from its origin, and with the token its forms carry.
  app.use("*", csrf());
  app.use("*", async (c, next) => {
    if (c.req.method !== "POST") return next();
    const form = await c.req.parseBody().catch(() => undefined);
    const given = Buffer.from(String(form?.csrf ?? ""));
    const expected = Buffer.from(c.get("page").csrf);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return c.text("Cross-site request refused.", 403);
    }
    await next();
  });

  /** The job the route names if the caller may see it, else the 404 to answer. */
  async function jobOf(c: Context<DashboardEnv>): Promise<JobDetail | Response> {
    const job = await runtime.get(c.req.param("id") ?? "", OPERATOR);
    if (job.status !== "not_found" && !visible(c.get("principal"), job)) {
      return c.text("No such job.", 404);
    }
    return job;
  }

  const rows = (c: Context<DashboardEnv>, filters: ListFilters) => {
    const principal = c.get("principal");
    // Owners told apart by `ownerOf` are no principals the index knows; then every row is read and checked.
    const own = principal.operator !== true && options.ownerOf === undefined ? principal.id : undefined;
    return jobRows(runtime, filters, {
      maxRows,
      now: c.get("page").now,
      visible: (job) => visible(principal, job),
      ...(own === undefined ? {} : { principal: own }),
    });
  };

  const list = async (c: Context<DashboardEnv>) => {
    const filters = filtersOf(c);
    const listed = await rows(c, filters);
    // A runtime without tools (the CLI's) knows tools only from their jobs.
    const names = new Set([...runtime.tools.map((t) => t.name), ...listed.flatMap((r) => r.job.tool ?? [])]);
    if (filters.tool !== undefined) names.add(filters.tool);
    return c.html(listPage(c.get("page"), [...names].sort(), filters, listed));
  };
  app.get("/", list);
  if (base !== "") app.get("", list);
  app.get("/fragments/rows", async (c) => c.html(rowsHtml(c.get("page"), await rows(c, filtersOf(c)))));

  app.get("/job/:id", async (c) => {
    const job = await jobOf(c);
    if (job instanceof Response) return job;
    return c.html(jobPage(c.get("page"), job), job.status === "not_found" ? 404 : 200);
  });
  app.get("/fragments/job/:id", async (c) => {
    const job = await jobOf(c);
    if (job instanceof Response) return job;
    // The page stops polling once the job has finished.
    if (!isUnfinished(job.status)) c.header("x-job-finished", "1");
    return c.html(jobHtml(c.get("page"), job) as Html);
  });

  app.post("/job/:id/cancel", async (c) => {
    const job = await jobOf(c);
    if (job instanceof Response) return job;
    if (job.status === "not_found") return c.text("No such job.", 404);
    await runtime.cancel(job.jobId, `cancelled from the dashboard by ${c.get("principal").id}`, OPERATOR);
    return c.redirect(jobPath(c.get("page"), job.jobId), 303);
  });
  app.post("/job/:id/answer", async (c) => {
    const job = await jobOf(c);
    if (job instanceof Response) return job;
    if (job.status === "not_found") return c.text("No such job.", 404);
    const outcome = await runtime.answer(job.jobId, answerOf(job, await c.req.formData()), OPERATOR);
    if (outcome.status !== "ok") {
      return c.text(
        outcome.status === "invalid" ? answerProblemText(job.jobId, outcome.problem) : "No such job.",
        outcome.status === "invalid" ? 400 : 404,
      );
    }
    return c.redirect(jobPath(c.get("page"), job.jobId), 303);
  });
  app.post("/job/:id/retry", async (c) => {
    const job = await jobOf(c);
    if (job instanceof Response) return job;
    if (job.status === "not_found") return c.text("No such job.", 404);
    const rerun = await runtime.retry(job.jobId, OPERATOR);
    return c.redirect(jobPath(c.get("page"), rerun.jobId), 303);
  });
  app.post("/signout", (c) =>
    signIn === undefined ? c.redirect(`${base}/`, 303) : signIn.signOut(c.req.raw, base),
  );

  app.notFound((c) => c.text("Not found", 404));
  return async (request) => app.fetch(request);
}

function filtersOf(c: Context<DashboardEnv>): ListFilters {
  const get = (name: string) => c.req.query(name) || undefined;
  const tool = get("tool");
  const status = get("status");
  const since = get("since");
  return {
    ...(tool === undefined ? {} : { tool }),
    ...(status === undefined ? {} : { status }),
    ...(since === undefined ? {} : { since }),
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
