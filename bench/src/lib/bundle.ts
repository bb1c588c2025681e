/**
 * The bench server bundled into one JavaScript file, as the weather command ships (apps/weather/tsup.config.ts):
 * a restart then loads what a user's server loads, not ~100 TypeScript sources stripped of their types one by one.
 */
import { join } from "node:path";
import { build } from "esbuild";

const SERVER = join(import.meta.dirname, "server.ts");

/** Bundles `server.ts` with every dependency but OpenTelemetry and pg into `dir`; returns the file's path. */
export async function bundleBenchServer(dir: string): Promise<string> {
  const outfile = join(dir, "bench-server.mjs");
  await build({
    entryPoints: [SERVER],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    conditions: ["@async-tools/source"],
    external: ["@opentelemetry/api", "pg", "pg-native"],
    logLevel: "error",
    // A CommonJS dependency bundled into an ES module needs the real require() for Node built-ins.
    banner: {
      js: 'import { createRequire as benchCreateRequire } from "node:module";\nconst require = benchCreateRequire(import.meta.url);',
    },
  });
  return outfile;
}
