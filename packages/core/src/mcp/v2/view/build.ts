/**
 * Builds the job view's page: the browser code in `browser/` (with the MCP Apps `App` it uses) bundled by
 * esbuild into one inline module script, and its stylesheet inline, so the page needs nothing from outside.
 * The package build runs this once and ships the result (tsup.config.ts); from source (tests, development)
 * it runs on the first read of the view.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CONFIG_SLOT, inlineScript } from "./html.ts";

/** The view's page, with {@link CONFIG_SLOT} in its head. `dir` is this folder (tsup passes it). */
export async function buildJobViewHtml(dir = fileURLToPath(new URL(".", import.meta.url))): Promise<string> {
  const browser = join(dir, "browser");
  const [bundle, css] = await Promise.all([
    build({
      entryPoints: [join(browser, "app.ts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      logLevel: "silent",
    }),
    readFile(join(browser, "style.css"), "utf8"),
  ]);
  const script = bundle.outputFiles[0]?.text ?? "";
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>Job</title>",
    `<style>${css}</style>`,
    CONFIG_SLOT,
    "</head><body>",
    '<main><section id="header"></section><section id="progress"></section>',
    '<section id="question" hidden></section><section id="steps" hidden></section>',
    '<section id="outcome" hidden></section><p id="notice" hidden></p>',
    '<div class="actions"><button id="cancel" type="button" hidden>Cancel</button>',
    '<button id="retry" type="button" hidden>Retry</button></div></main>',
    `<script type="module">${inlineScript(script)}</script>`,
    "</body></html>",
  ].join("\n");
}
