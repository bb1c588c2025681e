import { defineConfig } from "vitest/config";
import { testBudgets } from "../../vitest.budgets.ts";

export default defineConfig({
  resolve: { conditions: ["@async-tools/source"] },
  ssr: { resolve: { conditions: ["@async-tools/source"] } },
  test: {
    setupFiles: ["@async-tools/test-helpers/setup"],
    ...testBudgets,
  },
});
