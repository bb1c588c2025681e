import { workspaceTestConfig } from "@async-tools/test-helpers/vitest-config";
import { defineConfig } from "vitest/config";

/** Core's tests on their own (`vitest run` here), with the settings of the workspace's (`pnpm test` at the root). */
export default defineConfig(workspaceTestConfig);
