/**
 * `async-tools store init --store postgres://…`: applies the Postgres store's schema (Resonate's procedures and
 * our migrations) in one transaction under an advisory lock, as the database's owner role. Running it again
 * applies nothing; replicas refuse a database it has not brought up to date.
 */

import { redact } from "../store/connect.ts";
import { initPostgres } from "../store/postgres/postgres-store.ts";
import { parseStore } from "../store/select.ts";
import { CliError, type Command, EXIT, parse } from "./command.ts";

/** The `store init` command. */
export const storeInit: Command = {
  path: ["store", "init"],
  summary:
    "create or upgrade the schema of a postgres:// store (run once per release, as the database's owner role)",
  usage: "async-tools store init --store postgres://OWNER@HOST/DB",
  async run(args, ctx) {
    const { values } = parse(args, { store: { type: "string" } });
    const raw = values.store ?? ctx.env.ASYNC_TOOLS_STORE;
    if (raw === undefined || raw === "")
      throw new CliError("store init needs --store postgres://…", EXIT.usage);
    const location = parseStore(raw, ctx.env);
    if (location.kind !== "postgres") {
      throw new CliError(
        `store init is for postgres:// stores; ${location.kind} stores set themselves up.`,
        EXIT.usage,
      );
    }
    const result = await initPostgres(location.url);
    const where = redact(location.url);
    ctx.out(
      result.applied.length === 0
        ? `${where}: up to date (${result.present.join(", ")})`
        : `${where}: applied ${result.applied.join(", ")}${result.present.length > 0 ? `; already there: ${result.present.join(", ")}` : ""}`,
    );
    return EXIT.ok;
  },
};
