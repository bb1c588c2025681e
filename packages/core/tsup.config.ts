import { cpSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type Options } from "tsup";
import { buildJobViewHtml } from "./src/mcp/v2/view/build.ts";

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

/**
 * Ships the job view built: `src/mcp/v2/view/build.ts` (esbuild over the view's browser code) is replaced by
 * a module that returns the page it builds now, so the package never runs esbuild (a dev dependency) and
 * the page is a chunk of its own, loaded on the first read of the view.
 */
const jobViewBuilt: Plugin = {
  name: "job-view-built",
  setup(build) {
    build.onResolve({ filter: /build\.ts$/ }, (args) => {
      const path = join(args.resolveDir, args.path);
      return path.endsWith(join("mcp", "v2", "view", "build.ts"))
        ? { path, namespace: "job-view-built" }
        : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: "job-view-built" }, async () => {
      const page = await buildJobViewHtml(join(process.cwd(), "src", "mcp", "v2", "view"));
      return {
        contents: `export const buildJobViewHtml = async () => ${JSON.stringify(page)};`,
        loader: "js",
      };
    });
  },
};

/**
 * Ships the dashboard's stylesheet and script: `src/dashboard/assets.ts` (which reads `assets/*` beside it) is
 * replaced by a module holding their text, so `dist` and any bundle of it need no files of their own.
 */
const dashboardAssetsInlined: Plugin = {
  name: "dashboard-assets-inlined",
  setup(build) {
    build.onResolve({ filter: /assets\.ts$/ }, (args) => {
      const path = join(args.resolveDir, args.path);
      return path.endsWith(join("dashboard", "assets.ts"))
        ? { path, namespace: "dashboard-assets-inlined" }
        : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: "dashboard-assets-inlined" }, () => {
      const dir = join(process.cwd(), "src", "dashboard", "assets");
      const files = Object.fromEntries(
        readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), "utf8")]),
      );
      return {
        contents: `const files = ${JSON.stringify(files)};\nexport const assetText = (name) => files[name];`,
        loader: "js",
      };
    });
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
  esbuildPlugins: [nodeVersionFirst, jobViewBuilt, dashboardAssetsInlined],
  // The Postgres store's SQL (read by `async-tools store init`) and its licence ship beside the chunks.
  async onSuccess() {
    cpSync("src/store/postgres/sql", "dist/postgres", { recursive: true });
  },
});
