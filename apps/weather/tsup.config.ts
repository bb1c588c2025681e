import { defineConfig, type Options } from "tsup";

const shared: Options = {
  format: ["esm"],
  sourcemap: true,
  target: "node22",
  platform: "node",
};

export default defineConfig([
  {
    // The package's export: a library, so its dependencies stay imports and the application's own copies of
    // the MCP SDK and zod are the ones it uses. It leaves dist/cli to the command below (built in parallel).
    ...shared,
    entry: ["src/server.ts"],
    dts: { entry: ["src/server.ts"] },
    clean: ["!cli/**"],
  },
  {
    // The command the bin loads, bundled with its dependencies: a host spawns it on every start, and Node
    // spends more of a cold start resolving and loading ~350 small files than running them (docs/performance.md).
    // The v2 SDK, HTTP and dashboard code are split into chunks that load only when a flag asks for them.
    ...shared,
    entry: { main: "src/main.ts" },
    outDir: "dist/cli",
    // Source maps of the bundled dependencies would be 6 MB of the package; the bundle keeps each file's path
    // in a comment and is not minified, so its stack traces stay readable.
    sourcemap: false,
    clean: true,
    splitting: true,
    // Everything but OpenTelemetry (core's tracing, used only where the user installed it) and pg's native
    // binding. pg itself is bundled, in a chunk of its own that only a postgres:// store loads, so
    // `npx -y @async-tools/weather` with ASYNC_TOOLS_STORE=postgres://… works with nothing else installed.
    noExternal: [/^(?!(@opentelemetry\/api|pg-native)$)/],
    external: ["@opentelemetry/api", "pg-native"],
    // A CommonJS dependency bundled into ES modules gets a require() that throws for Node built-ins
    // (cron-parser's file reader has one today); this gives it the real one.
    banner: {
      js: 'import { createRequire as asyncToolsCreateRequire } from "node:module";\nconst require = asyncToolsCreateRequire(import.meta.url);',
    },
  },
]);
