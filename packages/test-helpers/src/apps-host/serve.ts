/**
 * The MCP Apps test host, from Node: serves the host page (host.ts, bundled by esbuild) and an MCP endpoint
 * on one loopback origin, opens the page in Chromium, and shows tool calls beside their views. Every page
 * error and console error of the page or its frames is kept in `problems`. Used by the core and weather tests;
 * `launchChromium` (`@async-tools/test-helpers/browser`) gives the browser.
 */
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { build } from "esbuild";
import type { Browser, Frame, Page } from "playwright-core";

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>MCP Apps test host</title>
<style>body{margin:0;font:13px system-ui;display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px}
#light{background:#fff}#dark{background:#16181d;color:#e6e8ec}
div{border-radius:10px;padding:10px;border:1px solid #d0d5dd;min-width:0}
iframe{width:100%;border:0;height:120px;display:block;margin-bottom:12px}</style></head>
<body><div id="light"></div><div id="dark"></div><script type="module" src="/host.js"></script></body></html>`;

/** A host page open in the browser. */
export interface AppsHost extends AsyncDisposable {
  page: Page;
  /** Page errors and console errors, of the page and every frame. */
  problems: string[];
  /** Calls `tool` with `args` as a model would, with its view in the `theme` column; the view's frame. */
  show(tool: string, args: Record<string, unknown>, theme?: "light" | "dark"): Promise<Frame>;
  /** What the views told the model (`ui/update-model-context`), in order. */
  modelContext(): Promise<string[]>;
  /** The `tools/call`s the host sent to the server (its own and the views'), as `name job_id`, in order. */
  viewCalls(): Promise<string[]>;
}

type HostGlobal = {
  host: {
    show(tool: string, args: object, theme: string): Promise<unknown>;
    modelContext: string[];
    viewCalls: string[];
  };
};

/** Serves the host page in front of `mcp` (a fetch handler of an MCP endpoint) and opens it. */
export async function openAppsHost(
  browser: Browser,
  mcp: (request: Request) => Promise<Response>,
  viewport = { width: 1100, height: 760 },
): Promise<AppsHost> {
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, "host.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]?.text ?? "";
  const served = await serveOnLoopback(async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/mcp") return mcp(request);
    if (pathname === "/host.js")
      return new Response(script, { headers: { "content-type": "text/javascript" } });
    return new Response(PAGE, { headers: { "content-type": "text/html" } });
  });
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  await page.goto(`${served.url}/`);
  await page.waitForSelector("body[data-ready]");
  return {
    page,
    problems,
    async show(tool, args, theme = "light") {
      const n = await page.locator("iframe").count();
      await page.evaluate(([t, a, th]) => (globalThis as unknown as HostGlobal).host.show(t, a, th), [
        tool,
        args,
        theme,
      ] as const);
      const frame = await (await page.locator("iframe").nth(n).elementHandle())?.contentFrame();
      if (!frame) throw new Error(`no view frame for ${tool}`);
      return frame;
    },
    modelContext: () => page.evaluate(() => (globalThis as unknown as HostGlobal).host.modelContext),
    viewCalls: () => page.evaluate(() => (globalThis as unknown as HostGlobal).host.viewCalls),
    async [Symbol.asyncDispose]() {
      await page.close();
      await served.close();
    },
  };
}

/** `fetch` served on a free port of 127.0.0.1. */
async function serveOnLoopback(
  fetch: (request: Request) => Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  let server: ReturnType<typeof serve> | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => resolve(info.port));
    server.once("error", reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (server === undefined) return resolve();
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
