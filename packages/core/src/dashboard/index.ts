/**
 * `@async-tools/core/dashboard`: the live web dashboard of a runtime's jobs, as a fetch handler to mount in
 * any server, and a small node:http server to run it on its own.
 */
export {
  createDashboard,
  type DashboardOptions,
  type DashboardPrincipal,
  type DashboardToken,
  type FetchHandler,
} from "./dashboard.ts";
export { type ServeDashboardOptions, type ServedDashboard, serveDashboard } from "./serve.ts";
