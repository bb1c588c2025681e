/**
 * `async-tools dashboard`: serves the live web dashboard of a store on 127.0.0.1 until interrupted.
 */
import { createDashboard } from "../dashboard/dashboard.ts";
import { serveDashboard } from "../dashboard/serve.ts";
import { DEFAULTS_DASHBOARD } from "../defaults.ts";
import { CliError, type Command, EXIT, parse } from "./command.ts";
import { openForCli, storeSpec } from "./open-store.ts";

/** The `dashboard` command. */
export const dashboardCommand: Command = {
  path: ["dashboard"],
  usage: "async-tools dashboard [--store PATH] [--port N]",
  summary: `a live web dashboard of the store's jobs on http://127.0.0.1:PORT/ (default port ${DEFAULTS_DASHBOARD.port}) until Ctrl-C; no sign-in, so loopback only (behind a server, mount createDashboard instead)`,
  operator: true,
  run: async (args, ctx) => {
    const { values } = parse(args, { store: { type: "string" }, port: { type: "string" } });
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
  },
};
