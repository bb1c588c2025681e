/**
 * `async-tools store info`: where a store is, how big it is on disk, and how many jobs it holds in each
 * status.
 */
import { statSync } from "node:fs";
import type { JobStatus } from "../runtime/job.ts";
import { parseStore } from "../store/select.ts";
import { type Command, EXIT, parse, printJson, STORE_OPTIONS } from "./command.ts";
import { allJobs } from "./jobs.ts";
import { openForCli, storeSpec } from "./open-store.ts";

/** What `store info --json` prints. */
export interface StoreInfoOutput {
  /** The store, as the runtime describes it (`sqlite:/path`, a URL without credentials, `memory`). */
  store: string;
  kind: string;
  /** The SQLite file, for the embedded store. */
  path?: string;
  /** Bytes on disk: the file with its write-ahead log. */
  sizeBytes?: number;
  jobs: { total: number; byStatus: Partial<Record<JobStatus, number>> };
}

/** The `store info` command. */
export const storeInfo: Command = {
  path: ["store", "info"],
  usage: "async-tools store info [--store PATH] [--json]",
  summary: "where the store is, its size on disk, and how many jobs it holds in each status",
  operator: true,
  run: async (args, ctx) => {
    const { values } = parse(args, STORE_OPTIONS);
    const spec = storeSpec(values.store, ctx.env);
    const location = parseStore(spec, ctx.env);
    const runtime = await openForCli(spec, ctx.env);
    let output: StoreInfoOutput;
    try {
      const byStatus: Partial<Record<JobStatus, number>> = {};
      const jobs = await allJobs(runtime);
      for (const job of jobs) byStatus[job.status] = (byStatus[job.status] ?? 0) + 1;
      output = {
        store: runtime.store.description,
        kind: runtime.store.kind,
        jobs: { total: jobs.length, byStatus },
      };
      if (location.kind === "sqlite") {
        output.path = location.path;
        output.sizeBytes = ["", "-wal"].reduce((sum, suffix) => sum + fileSize(location.path + suffix), 0);
      }
    } finally {
      await runtime.close();
    }
    if (values.json) {
      printJson(ctx, output);
      return EXIT.ok;
    }
    const lines = [`Store   ${output.store}`];
    if (output.sizeBytes !== undefined) lines.push(`Size    ${humanBytes(output.sizeBytes)}`);
    const counts = Object.entries(output.jobs.byStatus).map(([status, n]) => `${n} ${status}`);
    lines.push(`Jobs    ${output.jobs.total}${counts.length > 0 ? ` (${counts.join(", ")})` : ""}`);
    ctx.out(lines.join("\n"));
    return EXIT.ok;
  },
};

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
