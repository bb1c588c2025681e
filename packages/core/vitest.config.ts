import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@async-tools/source"] },
  ssr: { resolve: { conditions: ["@async-tools/source"] } },
  test: {
    setupFiles: ["./test/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
