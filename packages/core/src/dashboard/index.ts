/**
 * `@async-tools/core/dashboard`: the live web dashboard of a runtime's jobs, as a fetch handler to mount in
 * any server (or as a `serveHttp` route), and a small node:http server to run it on its own.
 */

import "../internal/node-version.ts";

export {
  createDashboard,
  type DashboardOptions,
  type DashboardPrincipal,
  type DashboardRouteOptions,
  type DashboardToken,
  dashboardRoute,
  type FetchHandler,
} from "./dashboard.ts";
export { type ServeDashboardOptions, type ServedDashboard, serveDashboard } from "./serve.ts";
