/**
 * The names the docs' code fragments use without defining them (a runtime, a definition, a server, the user's
 * own functions), declared once for scripts/check-docs.ts. A block that defines one of these names shadows it.
 */
import type { AnyAsyncTool, AsyncTools } from "@async-tools/core";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

declare global {
  /** An open runtime. */
  const runtime: AsyncTools;
  /** Definitions: the README's report, the crawler of getting-started.md, the weather app's. */
  const report: AnyAsyncTool;
  const crawl: AnyAsyncTool;
  const weatherData: AnyAsyncTool;
  /** A v1 Client that declared MCP Tasks. */
  const client: Client;
  /** Stand-ins for the user's own work. */
  function render(url: string): Promise<string>;
  function check(url: string): Promise<string>;
  function querySales(year: number, month: number): Promise<{ region: string; total: number }[]>;
  function renderPdf(rows: { region: string; total: number }[]): Promise<string>;
  function fetchSitemap(url: string): Promise<string[]>;
  function countPages(links: string[]): Promise<number>;
  function introspect(token: string): Promise<AuthInfo>;
  function dashboard(request: Request, principal: string | undefined): Response | Promise<Response>;
  function buildServer(runtime: AsyncTools): McpServer;
}
