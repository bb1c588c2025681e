import { defineConfig } from "tsup";

export default defineConfig({
  // main: the CLI the bin loads; server and http: the package's exports.
  entry: ["src/main.ts", "src/server.ts", "src/http.ts"],
  format: ["esm"],
  dts: { entry: ["src/server.ts", "src/http.ts"] },
  clean: true,
  sourcemap: true,
  target: "node22",
  platform: "node",
});
