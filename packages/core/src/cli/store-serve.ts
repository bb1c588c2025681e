/**
 * `async-tools store serve --store PATH [--port N] [--host H] [--token T]`: serves a store file over
 * Resonate's HTTP protocol until SIGINT or SIGTERM.
 */
import { serveFilePath } from "../store/shared/serve-file.ts";
import { serveStoreFile } from "../store/shared/standalone.ts";
import type { Command } from "./args.ts";

/** The `store serve` command. */
export const storeServe: Command = {
  path: ["store", "serve"],
  summary:
    "serve a store file to several servers or replicas on this host (ASYNC_TOOLS_STORE=http://127.0.0.1:N and ASYNC_TOOLS_STORE_TOKEN in each)",
  usage: "async-tools store serve --store PATH [--port 0] [--host 127.0.0.1] [--token T]",
  options: {
    store: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
  },
  async run(values) {
    const store = values.store;
    if (typeof store !== "string" || store === "") throw new Error("store serve needs --store PATH");
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error(`--port ${values.port} is not a port`);
    const token =
      typeof values.token === "string"
        ? values.token
        : process.env.ASYNC_TOOLS_STORE_TOKEN?.trim() || undefined;
    const served = await serveStoreFile({
      path: store.replace(/^sqlite:/, ""),
      port,
      ...(typeof values.host === "string" ? { host: values.host } : {}),
      ...(token === undefined ? {} : { token }),
    });
    process.stderr.write(
      `async-tools store serve: serving sqlite:${served.path} on ${served.url} (token in ${serveFilePath(served.path)})\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await served.close();
  },
};
