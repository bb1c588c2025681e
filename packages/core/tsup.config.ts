import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "mcp-v1": "src/mcp/v1/index.ts",
    "mcp-v2": "src/mcp/v2/index.ts",
    testing: "src/testing/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node22",
  platform: "node",
  // node:sqlite exists only with its prefix; tsup would strip it.
  removeNodeProtocol: false,
});
