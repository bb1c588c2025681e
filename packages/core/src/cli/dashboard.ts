/**
 * `async-tools dashboard`: serves the live web dashboard of a store on 127.0.0.1 until interrupted.
 */
import { createDashboard } from "../dashboard/dashboard.ts";
import { serveDashboard } from "../dashboard/serve.ts";
import { DEFAULTS_DASHBOARD } from "../defaults.ts";
import { type Command, parse, STORE_OPTIONS } from "./context.ts";
import { CliError, EXIT, openForCli, storeSpec } from "./open-store.ts";

export const DASHBOARD_USAGE = `Usage: async-tools dashboard [--store PATH] [--port N]

Serves a live dashboard of the store's jobs at http://127.0.0.1:PORT/ (default port ${DEFAULTS_DASHBOARD.port})
until Ctrl-C. It has no sign-in: it listens on loopback only. Behind a server, mount createDashboard instead.`;

/** Runs `dashboard`. */
export const dashboardCommand: Command = async (args, ctx) => {
  const { values } = parse(args, { ...STORE_OPTIONS, port: { type: "string" } }, DASHBOARD_USAGE);
  if (values.help) {
    ctx.out(DASHBOARD_USAGE);
    return EXIT.ok;
  }
  const port = values.port === undefined ? DEFAULTS_DASHBOARD.port : Number(values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new CliError(`--port takes a port number, not ${values.port}.`, EXIT.usage);
  }
  const runtime = await openForCli(storeSpec(values.store, ctx.env), ctx.env);
  try {
    const served = await serveDashboard(createDashboard(runtime), { port });
    ctx.err(`Dashboard of ${runtime.store.description} at ${served.url}/ (Ctrl-C to stop)`);
    await (ctx.stopped ?? new Promise<void>(() => undefined));
    await served.close();
  } finally {
    await runtime.close();
  }
  return EXIT.ok;
};
