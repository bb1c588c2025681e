import { workspaceTestConfig } from "@async-tools/test-helpers/vitest-config";
import { defineConfig } from "vitest/config";

/** The weather app's tests on their own (`vitest run` here), with the settings of the workspace's (`pnpm test` at the root). */
export default defineConfig(workspaceTestConfig);
