/**
 * A test host for MCP Apps, in the browser: a real v2 MCP Client (2026-07-28, declaring the extension) over
 * Streamable HTTP to the server that served this page, and for each tool call shown, the view's page in a
 * sandboxed frame under the spec's default Content-Security-Policy, connected through `AppBridge`. The test
 * drives it through `window.host`.
 */

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  AppBridge,
  getToolUiResourceUri,
  type McpUiHostContext,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
} from "@modelcontextprotocol/ext-apps/app-bridge";

/** The Content-Security-Policy a host must apply when the resource declares none (spec 2026-01-26). */
const DEFAULT_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; connect-src 'none'";

/** What the views told the model, in order. */
const modelContext: string[] = [];
/** The tool calls sent to the server (the host's and those it passed on for views), as `name job_id`. */
const viewCalls: string[] = [];

const client = new Client({ name: "apps-test-host", version: "0" }, {
  capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } },
  versionNegotiation: { mode: { pin: "2026-07-28" } },
} as ConstructorParameters<typeof Client>[1]);
/** Records each `tools/call` on its way to the server. */
const recording: typeof fetch = (input, init) => {
  const body =
    typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
  const params = body?.params as { name?: string; arguments?: { job_id?: string } } | undefined;
  if (body?.method === "tools/call") viewCalls.push(`${params?.name} ${params?.arguments?.job_id ?? ""}`);
  return fetch(input, init);
};
await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href), { fetch: recording }));
const { tools } = await client.listTools();

/** Calls `name` with `args` as a model would, and shows its view beside the call; resolves with the result. */
async function show(name: string, args: Record<string, unknown>, theme: "light" | "dark" = "light") {
  const tool = tools.find((t) => t.name === name);
  const uri = tool === undefined ? undefined : getToolUiResourceUri(tool);
  if (tool === undefined || uri === undefined) throw new Error(`${name} has no view`);
  const { contents } = await client.readResource({ uri });
  const page = contents[0];
  if (page === undefined || !("text" in page) || page.mimeType !== RESOURCE_MIME_TYPE) {
    throw new Error(`${uri} is not an MCP Apps page`);
  }

  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.dataset.tool = name;
  frame.title = `${name} ${JSON.stringify(args)}`;
  document.getElementById(theme)?.append(frame);
  const view = frame.contentWindow as Window;
  const hostContext: McpUiHostContext = {
    theme,
    toolInfo: { tool },
    displayMode: "inline",
    platform: "web",
    containerDimensions: { maxHeight: 900 },
  };
  const bridge = new AppBridge(
    client,
    { name: "apps-test-host", version: "0" },
    { serverTools: {}, logging: {}, updateModelContext: { text: {} } },
    { hostContext },
  );
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) frame.style.height = `${height}px`;
  };
  bridge.onupdatemodelcontext = async ({ content }) => {
    for (const block of content ?? []) if (block.type === "text") modelContext.push(block.text);
    return {};
  };
  const initialized = new Promise<void>((resolve) => {
    bridge.oninitialized = () => resolve();
  });
  await bridge.connect(new PostMessageTransport(view, view));
  frame.srcdoc = page.text.replace(
    "<head>",
    `<head><meta http-equiv="Content-Security-Policy" content="${DEFAULT_CSP}">`,
  );
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  const result = await client.callTool({ name, arguments: args });
  await bridge.sendToolResult(result as Parameters<AppBridge["sendToolResult"]>[0]);
  return result;
}

Object.assign(window, { host: { tools, show, modelContext, viewCalls } });
document.body.dataset.ready = "true";
