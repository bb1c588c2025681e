/**
 * The workspace's tests as three vitest projects, at three speeds (`pnpm test` runs all three):
 * - `unit`: the tests beside the source, in one process (in-memory transports and stores, temp files): seconds, the edit loop (`pnpm test --project unit`).
 * - `integration`: real processes, stores on disk, browsers, Postgres, soak (`test/` of each package, and the
 *   few tests beside the source listed below).
 * - `reliability`: the bench's chaos, fault, fuzz and long-work suites. `pnpm test` runs their CI size;
 *   `pnpm test:reliability` runs them full size.
 * With `ASYNC_TOOLS_TEST_REPORT=<file>` vitest also writes its JSON report there (`.ci/run` counts from it).
 */

import { existsSync } from "node:fs";
import { workspaceTestConfig } from "@async-tools/test-helpers/vitest-config";
import { defineConfig, mergeConfig } from "vitest/config";

/**
 * Tests beside the source that are not unit tests: they start child processes (the unit setup refuses those),
 * serve HTTP on a port to real clients, or run thousands of requests to prove that nothing grows. They run with
 * the integration tests.
 */
const BESIDE_SOURCE_NOT_UNIT = [
  "packages/core/src/store/sqlite/commit-mark.test.ts",
  "packages/core/src/store/sqlite/wal-sync.test.ts",
  "packages/core/src/store/sqlite/sqlite-network.test.ts",
  "packages/core/src/store/sqlite/differential.test.ts",
  "packages/core/src/store/shared/http-server.test.ts",
  "packages/core/src/store/shared/switching-network.test.ts",
  "packages/core/src/http/session-bounds.test.ts",
  "packages/core/src/http/serve-http.test.ts",
  "packages/core/src/http/principals.test.ts",
  "packages/core/src/http/request-caps.test.ts",
  "packages/core/src/mcp/v2/http-handler.test.ts",
  "packages/core/src/mcp/v2/view/job-view-page.test.ts",
];
// A file moved without this list following would run in `unit` again, slowly: refuse that.
for (const file of BESIDE_SOURCE_NOT_UNIT) {
  if (!existsSync(new URL(file, import.meta.url))) {
    throw new Error(`vitest.config.ts lists ${file}, which does not exist: update BESIDE_SOURCE_NOT_UNIT.`);
  }
}
const report = process.env.ASYNC_TOOLS_TEST_REPORT;

export default mergeConfig(
  workspaceTestConfig,
  defineConfig({
    test: {
      ...(report ? { reporters: ["default", "json"], outputFile: { json: report } } : {}),
      projects: [
        {
          extends: true,
          test: {
            name: "unit",
            include: ["{packages,apps}/*/src/**/*.test.ts", "apps/*/scripts/**/*.test.ts"],
            exclude: BESIDE_SOURCE_NOT_UNIT,
            // A unit test starts no process (the setup refuses one), and the files of a worker share one module
            // registry, so the SDKs, Hono and OpenTelemetry load once per worker, not once per file.
            setupFiles: ["@async-tools/test-helpers/unit-setup"],
            isolate: false,
          },
        },
        {
          extends: true,
          test: {
            name: "integration",
            include: ["{packages,apps}/*/test/**/*.test.ts", ...BESIDE_SOURCE_NOT_UNIT],
          },
        },
        {
          extends: true,
          test: {
            name: "reliability",
            include: ["bench/src/reliability/**/*.test.ts"],
            // The suites load the machine on purpose (hundreds of jobs, SIGKILLs): one at a time, after the rest.
            fileParallelism: false,
            sequence: { groupOrder: 1 },
          },
        },
      ],
    },
  }),
);
