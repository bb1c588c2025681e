/**
 * The vitest settings every config of the workspace shares: the root's (its three projects, `pnpm test`) and
 * each package's own (`vitest run` in the package). Tests run on the source (the `@async-tools/source` export
 * condition, so no build is needed), with the shared setup and the time budgets of a loaded machine.
 */
import type { ViteUserConfig } from "vitest/config";
import { testBudgets } from "./budgets.ts";

/**
 * The shared settings, for `defineConfig` as they are or as the base of `mergeConfig`.
 *
 * @example
 * ```ts
 * export default defineConfig(workspaceTestConfig);
 * ```
 */
export const workspaceTestConfig = {
  resolve: { conditions: ["@async-tools/source"] },
  ssr: { resolve: { conditions: ["@async-tools/source"] } },
  test: {
    setupFiles: ["@async-tools/test-helpers/setup"],
    ...testBudgets,
  },
} satisfies ViteUserConfig;
