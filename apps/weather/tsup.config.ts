import { defineConfig } from "tsup";

export default defineConfig({
  // main: the CLI the bin loads; server: the package's export.
  entry: ["src/main.ts", "src/server.ts"],
  format: ["esm"],
  dts: { entry: ["src/server.ts"] },
  clean: true,
  sourcemap: true,
  target: "node22",
  platform: "node",
});
