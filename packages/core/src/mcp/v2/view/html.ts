/**
 * The job view's page, built once per process. The package build replaces `build.ts` with the page it built
 * (tsup.config.ts), so the published package never runs esbuild; from source the page is built here, once.
 */

/** Where the page takes the server's configuration and the definitions' renderers. */
export const CONFIG_SLOT = "<!--async-tools:config-->";

/** JavaScript made safe to sit inside a `<script>` element: no `</script` or `<!--` ends or bends it. */
export function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

let page: Promise<string> | undefined;

/** The view's page with its configuration slot (see `build.ts`). */
export function jobViewPage(): Promise<string> {
  page ??= import("./build.ts").then((m) => m.buildJobViewHtml());
  return page;
}
