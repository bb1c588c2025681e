import { testBudgets } from "@async-tools/test-helpers/budgets";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@async-tools/source"] },
  ssr: { resolve: { conditions: ["@async-tools/source"] } },
  test: {
    setupFiles: ["@async-tools/test-helpers/setup"],
    ...testBudgets,
  },
});
