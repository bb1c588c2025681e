import { join } from "node:path";
import { defineConfig, type Options } from "tsup";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

/**
 * Lets the Node version check in `src/internal/node-version.ts` speak first on an old Node, whichever entry
 * (root or subpath) is imported. It is kept although the package says `"sideEffects": false` (it is a side
 * effect on purpose, and esbuild would drop it), and `node:sqlite` is loaded through
 * `process.getBuiltinModule` right after the check instead of by a static import: a static import of a
 * built-in that does not exist (Node < 22.18) fails while the module graph is linked, before any code runs.
 */
const nodeVersionFirst: Plugin = {
  name: "node-version-first",
  setup(build) {
    build.onResolve({ filter: /\/internal\/node-version\.ts$/ }, (args) => ({
      path: join(args.resolveDir, args.path),
      sideEffects: true,
    }));
    build.onResolve({ filter: /^node:sqlite$/ }, () => ({
      path: "node:sqlite",
      namespace: "lazy-node-sqlite",
    }));
    build.onLoad({ filter: /.*/, namespace: "lazy-node-sqlite" }, () => ({
      contents:
        'import "./node-version.ts";\n' +
        'export const { DatabaseSync, StatementSync, constants } = process.getBuiltinModule("node:sqlite");',
      resolveDir: join(process.cwd(), "src", "internal"),
      loader: "js",
    }));
  },
};

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "mcp-v1": "src/mcp/v1/index.ts",
    "mcp-v2": "src/mcp/v2/index.ts",
    http: "src/http/index.ts",
    testing: "src/testing/index.ts",
    "cli/main": "src/cli/main.ts",
    cli: "src/cli/index.ts",
    dashboard: "src/dashboard/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node22",
  platform: "node",
  // node:sqlite exists only with its prefix; tsup would strip it.
  removeNodeProtocol: false,
  esbuildPlugins: [nodeVersionFirst],
});
