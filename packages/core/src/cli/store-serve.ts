/**
 * `async-tools store serve --store PATH [--port N] [--host H] [--token T]`: serves a store file over
 * Resonate's HTTP protocol until SIGINT or SIGTERM.
 */
import { parseStore } from "../store/select.ts";
import { serveFilePath } from "../store/shared/serve-file.ts";
import { serveStoreFile } from "../store/shared/standalone.ts";
import { CliError, type Command, EXIT, parse } from "./command.ts";

/** The `store serve` command. */
export const storeServe: Command = {
  path: ["store", "serve"],
  summary:
    "serve a store file to several servers or replicas on this host (ASYNC_TOOLS_STORE=http://127.0.0.1:N and ASYNC_TOOLS_STORE_TOKEN in each)",
  usage: "async-tools store serve --store PATH [--port 0] [--host 127.0.0.1] [--token T]",
  async run(args, ctx) {
    const { values } = parse(args, {
      store: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
    });
    if (values.store === undefined || values.store === "") {
      throw new CliError("store serve needs --store PATH.", EXIT.usage);
    }
    const location = parseStore(values.store, ctx.env);
    if (location.kind !== "sqlite") {
      throw new CliError(
        `store serve serves a store file; ${values.store} is a ${location.kind} store.`,
        EXIT.usage,
      );
    }
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CliError(`--port takes a port number, not ${values.port}.`, EXIT.usage);
    }
    const token = values.token ?? (ctx.env.ASYNC_TOOLS_STORE_TOKEN?.trim() || undefined);
    const served = await serveStoreFile({
      path: location.path,
      port,
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(token === undefined ? {} : { token }),
    });
    ctx.err(
      `async-tools store serve: serving sqlite:${served.path} on ${served.url} (token in ${serveFilePath(served.path)})`,
    );
    await (ctx.stopped ?? new Promise<void>(() => undefined));
    await served.close();
    return EXIT.ok;
  },
};
